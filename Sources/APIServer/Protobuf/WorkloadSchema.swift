// k8s.io.api.apps.v1 Deployment and k8s.io.api.batch.v1 Job and CronJob, the workloads kubectl
// creates; their pods come from core.v1.PodTemplateSpec.

extension ProtobufSchema {
  static let workloads: [ProtobufMessage] = [
    message("apps.v1.Deployment", [
      1: .metadata,
      2: .field("spec", .message("DeploymentSpec")),
      3: .field("status", .message("DeploymentStatus")),
    ]),
    message("apps.v1.DeploymentSpec", [
      1: .pointer("replicas", .int32),
      2: .field("selector", .message("meta.v1.LabelSelector")),
      3: .field("template", .message("core.v1.PodTemplateSpec")),
      4: .field("strategy", .message("DeploymentStrategy")),
      5: .field("minReadySeconds", .int32),
      6: .pointer("revisionHistoryLimit", .int32),
      7: .field("paused", .bool),
      9: .pointer("progressDeadlineSeconds", .int32),
      10: .pointer("podReplacementPolicy", .string),
    ]),
    message("apps.v1.DeploymentStrategy", [
      1: .field("type", .string),
      2: .field("rollingUpdate", .message("RollingUpdateDeployment")),
    ]),
    message("apps.v1.RollingUpdateDeployment", [
      1: .pointer("maxUnavailable", .intOrString),
      2: .pointer("maxSurge", .intOrString),
    ]),
    message("apps.v1.DeploymentStatus", [
      1: .field("observedGeneration", .int64),
      2: .field("replicas", .int32),
      3: .field("updatedReplicas", .int32),
      7: .field("readyReplicas", .int32),
      4: .field("availableReplicas", .int32),
      5: .field("unavailableReplicas", .int32),
      9: .pointer("terminatingReplicas", .int32),
      6: .list("conditions", .message("DeploymentCondition")),
      8: .pointer("collisionCount", .int32),
    ]),
    message("apps.v1.DeploymentCondition", [
      1: .field("type", .string),
      2: .field("status", .string),
      6: .field("lastUpdateTime", .time),
      7: .field("lastTransitionTime", .time),
      4: .field("reason", .string),
      5: .field("message", .string),
    ]),

    message("batch.v1.Job", [
      1: .metadata,
      2: .field("spec", .message("JobSpec")),
      3: .field("status", .message("JobStatus")),
    ]),
    message("batch.v1.JobSpec", [
      1: .pointer("parallelism", .int32),
      2: .pointer("completions", .int32),
      3: .pointer("activeDeadlineSeconds", .int64),
      11: .field("podFailurePolicy", .message("PodFailurePolicy")),
      16: .field("successPolicy", .message("SuccessPolicy")),
      7: .pointer("backoffLimit", .int32),
      12: .pointer("backoffLimitPerIndex", .int32),
      13: .pointer("maxFailedIndexes", .int32),
      4: .field("selector", .message("meta.v1.LabelSelector")),
      5: .pointer("manualSelector", .bool),
      6: .field("template", .message("core.v1.PodTemplateSpec")),
      8: .pointer("ttlSecondsAfterFinished", .int32),
      9: .pointer("completionMode", .string),
      10: .pointer("suspend", .bool),
      14: .pointer("podReplacementPolicy", .string),
      15: .pointer("managedBy", .string),
    ]),
    message("batch.v1.PodFailurePolicy", [
      1: .list("rules", .message("PodFailurePolicyRule")),
    ]),
    message("batch.v1.PodFailurePolicyRule", [
      1: .field("action", .string),
      2: .field("onExitCodes", .message("PodFailurePolicyOnExitCodesRequirement")),
      3: .list("onPodConditions", .message("PodFailurePolicyOnPodConditionsPattern")),
    ]),
    message("batch.v1.PodFailurePolicyOnExitCodesRequirement", [
      1: .pointer("containerName", .string),
      2: .field("operator", .string),
      3: .list("values", .int32),
    ]),
    message("batch.v1.PodFailurePolicyOnPodConditionsPattern", [
      1: .field("type", .string),
      2: .field("status", .string),
    ]),
    message("batch.v1.SuccessPolicy", [
      1: .list("rules", .message("SuccessPolicyRule")),
    ]),
    message("batch.v1.SuccessPolicyRule", [
      1: .pointer("succeededIndexes", .string),
      2: .pointer("succeededCount", .int32),
    ]),
    message("batch.v1.JobStatus", [
      1: .list("conditions", .message("JobCondition")),
      2: .field("startTime", .time),
      3: .field("completionTime", .time),
      4: .field("active", .int32),
      5: .field("succeeded", .int32),
      6: .field("failed", .int32),
      11: .pointer("terminating", .int32),
      7: .field("completedIndexes", .string),
      10: .pointer("failedIndexes", .string),
      8: .field("uncountedTerminatedPods", .message("UncountedTerminatedPods")),
      9: .pointer("ready", .int32),
    ]),
    message("batch.v1.JobCondition", [
      1: .field("type", .string),
      2: .field("status", .string),
      3: .field("lastProbeTime", .time),
      4: .field("lastTransitionTime", .time),
      5: .field("reason", .string),
      6: .field("message", .string),
    ]),
    message("batch.v1.UncountedTerminatedPods", [
      1: .list("succeeded", .string),
      2: .list("failed", .string),
    ]),
    message("batch.v1.CronJob", [
      1: .metadata,
      2: .field("spec", .message("CronJobSpec")),
      3: .field("status", .message("CronJobStatus")),
    ]),
    message("batch.v1.CronJobSpec", [
      1: .field("schedule", .string),
      8: .pointer("timeZone", .string),
      2: .pointer("startingDeadlineSeconds", .int64),
      3: .field("concurrencyPolicy", .string),
      4: .pointer("suspend", .bool),
      5: .field("jobTemplate", .message("JobTemplateSpec")),
      6: .pointer("successfulJobsHistoryLimit", .int32),
      7: .pointer("failedJobsHistoryLimit", .int32),
    ]),
    message("batch.v1.JobTemplateSpec", [
      1: .metadata,
      2: .field("spec", .message("JobSpec")),
    ]),
    message("batch.v1.CronJobStatus", [
      1: .list("active", .message("core.v1.ObjectReference")),
      4: .field("lastScheduleTime", .time),
      5: .field("lastSuccessfulTime", .time),
    ]),
  ]
}
