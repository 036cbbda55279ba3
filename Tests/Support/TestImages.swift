// Images the OCI tests build themselves from busybox-static: two layers (the second gzip'd, with a
// whiteout and an opaque directory), a config with Entrypoint/Cmd/Env/WorkingDir, written as an
// OCI image layout (folder and tarball) and as a `docker save` tarball. The runtime's and the node
// agent's tests use them.
import Foundation
import XCTest

public enum TestImages {
  /// The paths `build` wrote under its folder.
  public struct Built {
    public let layout: String
    public let layoutArchive: String
    public let dockerArchive: String
    /// The tags they carry.
    public static let layoutTag = "skiff.test/busybox:1"
    public static let dockerTag = "skiff.test/busybox:docker"
  }

  /// `user`: the config's User (none by default).
  public static func build(in folder: URL, user: String? = nil) throws -> Built {
    guard FileManager.default.isExecutableFile(atPath: "/bin/busybox") else {
      throw XCTSkip("busybox-static is not installed (apt-get install busybox-static)")
    }
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    let script = folder.appendingPathComponent("make-image.py")
    try builder.write(to: script, atomically: true, encoding: .utf8)
    let result = try Fixtures.run(["python3", script.path, folder.path] + (user.map { [$0] } ?? []))
    guard result.status == 0 else { throw TestFailure("building the test image: \(result.output)") }
    return Built(layout: folder.appendingPathComponent("layout").path,
                 layoutArchive: folder.appendingPathComponent("layout.tar").path,
                 dockerArchive: folder.appendingPathComponent("docker.tar").path)
  }

  private static let builder = #"""
import gzip, hashlib, io, json, os, sys, tarfile

out = sys.argv[1]
user = sys.argv[2] if len(sys.argv) > 2 else None
APPLETS = ["sh", "echo", "cat", "ls", "sleep", "tail", "pwd", "env", "id", "true", "false", "mkdir",
           "touch", "head", "dd", "seq", "wc", "hostname", "grep", "cut"]

def tar_bytes(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif kind == "link":
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o755 if kind == "exe" else 0o644
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()

busybox = open("/bin/busybox", "rb").read()
base = [("bin", "dir", None), ("bin/busybox", "exe", busybox)]
base += [("bin/" + a, "link", "busybox") for a in APPLETS]
base += [("etc", "dir", None), ("etc/passwd", "file", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n"),
         ("etc/group", "file", b"root:x:0:\nnogroup:x:65534:\n"),
         ("data", "dir", None), ("data/keep", "file", b"kept\n"), ("data/gone", "file", b"hidden by a whiteout\n"),
         ("opq", "dir", None), ("opq/old", "file", b"hidden by an opaque directory\n"), ("tmp", "dir", None),
         # Longer than ustar's 100-byte name field: a GNU long-name entry.
         ("deep", "dir", None), ("deep/" + "d" * 120, "file", b"long name\n"),
         ("data/keep-linked", "hardlink", "data/keep")]
top = [("data", "dir", None), ("data/.wh.gone", "file", b""), ("opq", "dir", None),
       ("opq/.wh..wh..opq", "file", b""), ("opq/new", "file", b"new\n")]

layer1 = tar_bytes(base)
layer2_plain = tar_bytes(top)
layer2 = gzip.compress(layer2_plain, mtime=0)
digest = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()

process = {"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo image-default $GREETING; pwd"],
           "Env": ["PATH=/bin", "GREETING=from-image"], "WorkingDir": "/data"}
if user:
    process["User"] = user
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": process,
    "rootfs": {"type": "layers", "diff_ids": [digest(layer1), digest(layer2_plain)]},
}, sort_keys=True).encode()
manifest = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
    "layers": [
        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer1), "size": len(layer1)},
        {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer2), "size": len(layer2)},
    ],
}, sort_keys=True).encode()
index = json.dumps({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest(manifest), "size": len(manifest),
    "annotations": {"org.opencontainers.image.ref.name": "skiff.test/busybox:1"}}]}).encode()

layout = os.path.join(out, "layout")
os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
for blob in (layer1, layer2, config, manifest):
    open(os.path.join(layout, "blobs", "sha256", digest(blob)[7:]), "wb").write(blob)
open(os.path.join(layout, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
open(os.path.join(layout, "index.json"), "wb").write(index)
with tarfile.open(os.path.join(out, "layout.tar"), "w") as tar:
    tar.add(layout, arcname=".")

# docker save: uncompressed layers under <id>/layer.tar, the config as <hex>.json.
docker = {"manifest.json": json.dumps([{"Config": digest(config)[7:] + ".json",
                                        "RepoTags": ["skiff.test/busybox:docker"],
                                        "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode(),
          digest(config)[7:] + ".json": config, "l1/layer.tar": layer1, "l2/layer.tar": layer2_plain}
with tarfile.open(os.path.join(out, "docker.tar"), "w") as tar:
    for name, data in docker.items():
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
"""#
}
