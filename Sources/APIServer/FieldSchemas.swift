// Which fields each built-in kind has, for fieldValidation: the field names of k8s.io/api 1.32,
// written out down to the structures people mistype (pod specs, containers, workload specs,
// services). Below a field listed only by name anything goes, so an incomplete entry accepts a
// valid object rather than rejecting it; a kind not listed here accepts every field.
import ObjectModel

indirect enum FieldSchema: Sendable {
  /// A struct: only these fields.
  case fields([String: FieldSchema])
  /// A map with string keys of any name, each value of this schema.
  case map(FieldSchema)
  case list(FieldSchema)
  /// A value, or a structure whose fields are not checked (x-kubernetes-preserve-unknown-fields).
  case any

  /// A struct whose space-separated `names` are unchecked, and whose `nested` fields are checked.
  static func object(_ names: String, _ nested: [String: FieldSchema] = [:]) -> FieldSchema {
    var fields = nested
    for name in names.split(separator: " ") where fields[String(name)] == nil { fields[String(name)] = .any }
    return .fields(fields)
  }

  /// A kind's top level: apiVersion, kind and metadata, plus its own fields.
  static func kind(_ names: String, _ nested: [String: FieldSchema] = [:]) -> FieldSchema {
    object("apiVersion kind " + names, nested.merging(["metadata": objectMeta]) { mine, _ in mine })
  }
}

extension FieldSchema {
  static let objectMeta = object("""
    name generateName namespace selfLink uid resourceVersion generation creationTimestamp deletionTimestamp \
    deletionGracePeriodSeconds labels annotations ownerReferences finalizers managedFields
    """)

  static let container = object("""
    name image command args workingDir envFrom resizePolicy restartPolicy volumeDevices livenessProbe \
    readinessProbe startupProbe lifecycle terminationMessagePath terminationMessagePolicy imagePullPolicy \
    securityContext stdin stdinOnce tty targetContainerName
    """, [
      "ports": .list(object("name hostPort containerPort protocol hostIP")),
      "env": .list(object("name value valueFrom")),
      "volumeMounts": .list(object("name readOnly recursiveReadOnly mountPath subPath mountPropagation subPathExpr")),
      "resources": object("limits requests claims"),
    ])

  static let volume = object("""
    name hostPath emptyDir gcePersistentDisk awsElasticBlockStore gitRepo secret nfs iscsi glusterfs \
    persistentVolumeClaim rbd flexVolume cinder cephfs flocker downwardAPI fc azureFile configMap \
    vsphereVolume quobyte azureDisk photonPersistentDisk projected portworxVolume scaleIO storageos csi \
    ephemeral image
    """)

  static let podSpec = object("""
    restartPolicy terminationGracePeriodSeconds activeDeadlineSeconds dnsPolicy nodeSelector \
    serviceAccountName serviceAccount automountServiceAccountToken nodeName hostNetwork hostPID hostIPC \
    shareProcessNamespace securityContext imagePullSecrets hostname subdomain affinity schedulerName \
    tolerations hostAliases priorityClassName priority dnsConfig readinessGates runtimeClassName \
    enableServiceLinks preemptionPolicy overhead topologySpreadConstraints setHostnameAsFQDN os hostUsers \
    schedulingGates resourceClaims resources
    """, [
      "containers": .list(container),
      "initContainers": .list(container),
      "ephemeralContainers": .list(container),
      "volumes": .list(volume),
    ])

  static let podTemplate = object("", ["metadata": objectMeta, "spec": podSpec])

  static let jobSpec = object("""
    parallelism completions activeDeadlineSeconds podFailurePolicy successPolicy backoffLimit \
    backoffLimitPerIndex maxFailedIndexes selector manualSelector ttlSecondsAfterFinished completionMode \
    suspend podReplacementPolicy managedBy
    """, ["template": podTemplate])

  static let servicePort = object("name protocol appProtocol port targetPort nodePort")

  /// By group, version and kind ("apps/v1/Deployment").
  static let builtIn: [String: FieldSchema] = [
    "v1/Pod": kind("status", ["spec": podSpec]),
    "v1/PodTemplate": kind("", ["template": podTemplate]),
    "v1/Node": kind("spec status"),
    "v1/Namespace": kind("spec status"),
    "v1/Service": kind("status", ["spec": object("""
      selector clusterIP clusterIPs type externalIPs sessionAffinity loadBalancerIP loadBalancerSourceRanges \
      externalName externalTrafficPolicy healthCheckNodePort publishNotReadyAddresses sessionAffinityConfig \
      ipFamilies ipFamilyPolicy allocateLoadBalancerNodePorts loadBalancerClass internalTrafficPolicy \
      trafficDistribution
      """, ["ports": .list(servicePort)])]),
    "v1/Endpoints": kind("subsets"),
    "v1/ConfigMap": kind("data binaryData immutable"),
    "v1/Secret": kind("data stringData type immutable"),
    "v1/Event": kind("""
      involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action \
      related reportingComponent reportingInstance
      """),
    "v1/PersistentVolume": kind("spec status"),
    "v1/PersistentVolumeClaim": kind("spec status"),
    "v1/ServiceAccount": kind("secrets imagePullSecrets automountServiceAccountToken"),
    "v1/ResourceQuota": kind("spec status"),
    "v1/LimitRange": kind("spec"),
    "apps/v1/Deployment": kind("status", ["spec": object("""
      replicas selector strategy minReadySeconds revisionHistoryLimit paused progressDeadlineSeconds
      """, ["template": podTemplate])]),
    "apps/v1/ReplicaSet": kind("status", ["spec": object("replicas minReadySeconds selector", ["template": podTemplate])]),
    "apps/v1/StatefulSet": kind("status", ["spec": object("""
      replicas selector volumeClaimTemplates serviceName podManagementPolicy updateStrategy \
      revisionHistoryLimit minReadySeconds persistentVolumeClaimRetentionPolicy ordinals
      """, ["template": podTemplate])]),
    "apps/v1/DaemonSet": kind("status", ["spec": object("""
      selector updateStrategy minReadySeconds revisionHistoryLimit
      """, ["template": podTemplate])]),
    "batch/v1/Job": kind("status", ["spec": jobSpec]),
    "batch/v1/CronJob": kind("status", ["spec": object("""
      schedule timeZone startingDeadlineSeconds concurrencyPolicy suspend successfulJobsHistoryLimit \
      failedJobsHistoryLimit
      """, ["jobTemplate": object("", ["metadata": objectMeta, "spec": jobSpec])])]),
    "autoscaling/v2/HorizontalPodAutoscaler": kind("status", ["spec": object(
      "scaleTargetRef minReplicas maxReplicas metrics behavior")]),
    "autoscaling/v1/HorizontalPodAutoscaler": kind("status", ["spec": object(
      "scaleTargetRef minReplicas maxReplicas targetCPUUtilizationPercentage")]),
    "policy/v1/PodDisruptionBudget": kind("spec status"),
    "storage.k8s.io/v1/StorageClass": kind("""
      provisioner parameters reclaimPolicy mountOptions allowVolumeExpansion volumeBindingMode allowedTopologies
      """),
    "networking.k8s.io/v1/NetworkPolicy": kind("spec status"),
    "networking.k8s.io/v1/Ingress": kind("spec status"),
    "scheduling.k8s.io/v1/PriorityClass": kind("value globalDefault description preemptionPolicy"),
    "coordination.k8s.io/v1/Lease": kind("spec"),
    "discovery.k8s.io/v1/EndpointSlice": kind("addressType endpoints ports"),
    "node.k8s.io/v1/RuntimeClass": kind("handler overhead scheduling"),
    "apiextensions.k8s.io/v1/CustomResourceDefinition": kind("spec status"),
  ]

  /// A custom resource's schema from its CRD version's `openAPIV3Schema`, as Kubernetes prunes
  /// by it: properties are the fields, additionalProperties a map,
  /// `x-kubernetes-preserve-unknown-fields` (or no schema at all) keeps anything.
  init(openAPIV3 schema: JSON?, topLevel: Bool = true) {
    guard let schema, schema["x-kubernetes-preserve-unknown-fields"]?.boolValue != true,
          schema["x-kubernetes-int-or-string"]?.boolValue != true else {
      self = .any
      return
    }
    if let properties = schema["properties"]?.objectValue {
      var fields: [String: FieldSchema] = [:]
      for (name, property) in properties { fields[name] = FieldSchema(openAPIV3: property, topLevel: false) }
      if topLevel {
        fields["apiVersion"] = .any
        fields["kind"] = .any
        fields["metadata"] = .objectMeta
      }
      self = .fields(fields)
    } else if let additional = schema["additionalProperties"], additional.objectValue != nil {
      self = .map(FieldSchema(openAPIV3: additional, topLevel: false))
    } else if let items = schema["items"], schema["type"]?.stringValue == "array" {
      self = .list(FieldSchema(openAPIV3: items, topLevel: false))
    } else if topLevel {
      self = .kind("", [:])
    } else if schema["type"]?.stringValue == "object" {
      self = .fields([:])
    } else {
      self = .any
    }
  }
}
