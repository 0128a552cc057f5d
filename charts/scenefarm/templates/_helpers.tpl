{{/*
Names, labels and the derived settings every template shares. All names are prefixed "scenefarm.".
*/}}

{{- define "scenefarm.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "scenefarm.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "scenefarm.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. Never "app.kubernetes.io/managed-by: scenefarm": that marks render Pods. */}}
{{- define "scenefarm.labels" -}}
helm.sh/chart: {{ include "scenefarm.chart" . }}
{{ include "scenefarm.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: scenefarm
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "scenefarm.selectorLabels" -}}
app.kubernetes.io/name: {{ include "scenefarm.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "scenefarm.operatorSelectorLabels" -}}
{{ include "scenefarm.selectorLabels" . }}
app.kubernetes.io/component: operator
{{- end }}

{{- define "scenefarm.serviceAccountName" -}}
{{- if .Values.operator.serviceAccount.create }}
{{- default (include "scenefarm.fullname" .) .Values.operator.serviceAccount.name }}
{{- else }}
{{- required "operator.serviceAccount.name is required when operator.serviceAccount.create is false" .Values.operator.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* "true" when the operator watches every namespace (empty watch.namespaces), else "". */}}
{{- define "scenefarm.clusterwide" -}}
{{- if not .Values.watch.namespaces }}true{{ end }}
{{- end }}

{{/* "true" with more than one operator Pod (one active, the others standing by). */}}
{{- define "scenefarm.replicated" -}}
{{- if gt (int .Values.operator.replicas) 1 }}true{{ end }}
{{- end }}

{{/*
Namespaces where render/combine Pods run, as a JSON list without duplicates: render.namespaces,
else watch.namespaces, else the release namespace; plus the chart-managed render namespace when it
is created, and the web intake's namespace when the web intake is on (its requests render there).
*/}}
{{- define "scenefarm.renderNamespaces" -}}
{{- $ns := .Values.render.namespaces | default .Values.watch.namespaces | default (list .Release.Namespace) }}
{{- if .Values.render.namespace.create }}
{{- $ns = append $ns .Values.render.namespace.name }}
{{- end }}
{{- if .Values.web.enabled }}
{{- $ns = append $ns .Values.web.namespace }}
{{- end }}
{{- $ns | uniq | toJson }}
{{- end }}

{{/*
Namespaces the chart creates, as a JSON list without duplicates: the chart-managed render
namespace (render.namespace.create) and the web intake's namespace (web.createNamespace), never
the release namespace (Helm's --create-namespace or the user owns that one).
*/}}
{{- define "scenefarm.createdNamespaces" -}}
{{- $ns := list }}
{{- if .Values.render.namespace.create }}
{{- $ns = append $ns .Values.render.namespace.name }}
{{- end }}
{{- if and .Values.web.enabled .Values.web.createNamespace }}
{{- $ns = append $ns .Values.web.namespace }}
{{- end }}
{{- without ($ns | uniq) .Release.Namespace | toJson }}
{{- end }}

{{/*
Pod-level securityContext of the Pods the chart runs: non-root with RuntimeDefault seccomp; the
fixed uid/gid 10001 of the images only off OpenShift, whose restricted-v2 SCC assigns a UID from
the namespace's range and refuses any other.
*/}}
{{- define "scenefarm.podSecurityContext" -}}
runAsNonRoot: true
{{- if not .Values.openshift }}
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "scenefarm.image" -}}
{{- $tag := default .root.Chart.AppVersion .image.tag }}
{{- if .image.digest }}
{{- printf "%s@%s" .image.repository .image.digest }}
{{- else }}
{{- printf "%s:%s" .image.repository $tag }}
{{- end }}
{{- end }}

{{/* The Argo CD health check, shared by the ConfigMap template and NOTES. */}}
{{- define "scenefarm.argocdHealthKey" -}}
resource.customizations.health.scenefarm.dev_VideoRequest
{{- end }}

{{/* Rules for namespaced resources in the watched namespaces (rbac-requirements.yaml, scope: watched). */}}
{{- define "scenefarm.watchedRules" -}}
- apiGroups: [scenefarm.dev]
  resources: [videorequests]
  verbs: [list, watch, patch, delete]
- apiGroups: [scenefarm.dev]
  resources: [videorequests/status]
  verbs: [patch]
# Children carry blockOwnerDeletion (kopf.adopt): where OwnerReferencesPermissionEnforcement is on
# (OpenShift, hardened clusters), creating them needs update on the owner's finalizers.
- apiGroups: [scenefarm.dev]
  resources: [videorequests/finalizers]
  verbs: [update]
- apiGroups: [batch]
  resources: [jobs]
  verbs: [list, watch, create, delete, patch]
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, create, patch]
- apiGroups: [""]
  resources: [events]
  verbs: [create, list]
{{- if .Values.web.enabled }}
# The web intake creates one VideoRequest per Appwrite request row, and reads it back by name
# (the row's request: its owner, before any cancel, retry or delete).
- apiGroups: [scenefarm.dev]
  resources: [videorequests]
  verbs: [get, create]
{{- end }}
{{- if .Values.render.kueueQueueName }}
# Kueue's reason for holding a scene Job comes from the Workload it made for that Job.
- apiGroups: [kueue.x-k8s.io]
  resources: [workloads]
  verbs: [list]
{{- end }}
{{- if .Values.notify.secretRefs }}
# spec.notify.secretRef: the webhook URL and signing key of a request come from its namespace.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
{{- end }}
{{- end }}

{{/* The operator's SCENEFARM_* environment: values -> env -> scenefarm_operator.support.settings. */}}
{{- define "scenefarm.operatorEnv" -}}
- name: POD_ID
  # kopf's identity in its logs: the Pod name instead of a random user@host id.
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
# Leader election (docs/reliability.md): one active replica holds this Lease, the others stand by.
- name: SCENEFARM_LEADER_ELECTION_LEASE
  value: {{ include "scenefarm.fullname" . | quote }}
- name: SCENEFARM_LEADER_ELECTION_NAMESPACE
  value: {{ .Release.Namespace | quote }}
- name: SCENEFARM_LEADER_ELECTION_IDENTITY
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: SCENEFARM_LEASE_DURATION_SECONDS
  value: {{ .Values.operator.leaderElection.leaseDurationSeconds | quote }}
- name: SCENEFARM_RENEW_DEADLINE_SECONDS
  value: {{ .Values.operator.leaderElection.renewDeadlineSeconds | quote }}
- name: SCENEFARM_RETRY_PERIOD_SECONDS
  value: {{ .Values.operator.leaderElection.retryPeriodSeconds | quote }}
# A standby answers the kubelet's probes on kopf's health port until it becomes active.
- name: SCENEFARM_HEALTH_PORT
  value: {{ .Values.operator.healthPort | quote }}
- name: SCENEFARM_RENDERER_IMAGE
  value: {{ include "scenefarm.image" (dict "root" . "image" .Values.render.image) | quote }}
- name: SCENEFARM_RENDERER_PULL_POLICY
  value: {{ .Values.render.image.pullPolicy | quote }}
- name: SCENEFARM_RENDER_SERVICE_ACCOUNT
  value: {{ .Values.render.serviceAccount.name | quote }}
- name: SCENEFARM_ARTIFACT_STORE
  value: {{ .Values.artifacts.store | quote }}
- name: SCENEFARM_ARTIFACT_CLAIM
  value: {{ .Values.artifacts.volume.claimName | quote }}
- name: SCENEFARM_DEFAULT_QUALITY
  value: {{ .Values.render.defaultQuality | quote }}
- name: SCENEFARM_NAMESPACES
  value: {{ join "," .Values.watch.namespaces | quote }}
- name: SCENEFARM_MAX_RUNNING_SCENE_JOBS
  value: {{ .Values.render.maxRunningSceneJobs | quote }}
{{- with .Values.render.kueueQueueName }}
- name: SCENEFARM_KUEUE_QUEUE_NAME
  value: {{ . | quote }}
{{- end }}
{{- if .Values.openshift }}
- name: SCENEFARM_OPENSHIFT
  value: "true"
{{- end }}
- name: SCENEFARM_LOG_LEVEL
  value: {{ .Values.operator.logLevel | quote }}
{{- if .Values.metrics.enabled }}
- name: SCENEFARM_METRICS_PORT
  value: {{ .Values.metrics.port | quote }}
{{- end }}
- name: SCENEFARM_LOG_FORMAT
  value: {{ .Values.operator.logFormat | quote }}
{{- with .Values.cost.llmPrices }}
- name: SCENEFARM_LLM_PRICES
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.notify }}
{{- if .targets }}
- name: SCENEFARM_NOTIFY_TARGETS
  value: {{ toJson .targets | quote }}
{{- end }}
{{- if .keysSecret }}
- name: SCENEFARM_NOTIFY_KEYS_DIR
  value: /etc/scenefarm/notify-keys
{{- end }}
- name: SCENEFARM_NOTIFY_SECRET_REFS
  value: {{ .secretRefs | quote }}
- name: SCENEFARM_NOTIFY_MAX_ATTEMPTS
  value: {{ .maxAttempts | quote }}
- name: SCENEFARM_NOTIFY_TIMEOUT_SECONDS
  value: {{ .timeoutSeconds | quote }}
{{- end }}
{{- with .Values.appwrite }}
{{- if .endpoint }}
- name: SCENEFARM_APPWRITE_ENDPOINT
  value: {{ .endpoint | quote }}
{{- end }}
{{- if .project }}
- name: SCENEFARM_APPWRITE_PROJECT
  value: {{ .project | quote }}
{{- end }}
- name: SCENEFARM_APPWRITE_DATABASE
  value: {{ .database | quote }}
- name: SCENEFARM_APPWRITE_BUCKET
  value: {{ .bucket | quote }}
{{- if .renderCredentialsSecret }}
- name: SCENEFARM_APPWRITE_CREDENTIALS_SECRET
  value: {{ .renderCredentialsSecret | quote }}
{{- end }}
{{- if .existingSecret }}
- name: SCENEFARM_APPWRITE_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret | quote }}
      key: {{ .apiKeyKey | quote }}
{{- end }}
{{- end }}
- name: SCENEFARM_GEMINI_MODEL
  value: {{ .Values.gemini.model | quote }}
{{- with .Values.gemini.baseUrl }}
- name: SCENEFARM_GEMINI_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with .Values.gemini.existingSecret }}
- name: SCENEFARM_GEMINI_API_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . | quote }}
      key: {{ $.Values.gemini.apiKeyKey | quote }}
{{- end }}
{{- with .Values.operator.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
