"""The official Kubernetes Python client against a Skiff server: create, list, watch, replace
(with a conflict), patch and delete. Prints one line per step; exits non-zero on any surprise.
Usage: python_client_check.py KUBECONFIG"""
import sys
import threading
import time

from kubernetes import client, config, watch

config.load_kube_config(sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
ns = "default"


def check(condition, message):
    if not condition:
        print("FAILED:", message)
        sys.exit(1)
    print("ok:", message)


events = []


def watcher():
    stream = watch.Watch().stream(core.list_namespaced_config_map, ns, label_selector="app=py",
                                  timeout_seconds=4)
    for event in stream:
        events.append((event["type"], event["object"].metadata.name, event["object"].data))


thread = threading.Thread(target=watcher)
thread.start()
time.sleep(0.5)

body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm", labels={"app": "py"}), data={"a": "1"})
created = core.create_namespaced_config_map(ns, body)
check(created.metadata.uid and created.metadata.resource_version, "create returns uid and resourceVersion")

names = [c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="app=py").items]
check(names == ["py-cm"], "list with a label selector")

created.data["a"] = "2"
replaced = core.replace_namespaced_config_map("py-cm", ns, created)
check(int(replaced.metadata.resource_version) > int(created.metadata.resource_version), "replace bumps resourceVersion")
try:
    core.replace_namespaced_config_map("py-cm", ns, created)  # still the old resourceVersion
    check(False, "replace with a stale resourceVersion is refused")
except client.exceptions.ApiException as error:
    check(error.status == 409, "replace with a stale resourceVersion gets 409 Conflict")

core.patch_namespaced_config_map("py-cm", ns, {"data": {"b": "3"}})
check(core.read_namespaced_config_map("py-cm", ns).data == {"a": "2", "b": "3"}, "patch merges data")

deployment = client.V1Deployment(
    metadata=client.V1ObjectMeta(name="py-deploy"),
    spec=client.V1DeploymentSpec(
        replicas=2, selector=client.V1LabelSelector(match_labels={"app": "py-deploy"}),
        template=client.V1PodTemplateSpec(
            metadata=client.V1ObjectMeta(labels={"app": "py-deploy"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox")]))))
made = apps.create_namespaced_deployment(ns, deployment)
check(made.spec.strategy.type == "RollingUpdate", "deployment defaults applied")
apps.delete_namespaced_deployment("py-deploy", ns)

core.delete_namespaced_config_map("py-cm", ns)
try:
    core.read_namespaced_config_map("py-cm", ns)
    check(False, "deleted object is gone")
except client.exceptions.ApiException as error:
    check(error.status == 404, "deleted object answers 404")

thread.join()
kinds = [kind for kind, _, _ in events]
check(kinds == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"], f"watch saw every change in order: {kinds}")
print("all python client checks passed")
