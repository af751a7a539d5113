{{/* The chart name, or nameOverride. */}}
{{- define "checkpoint-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The name of the release's objects: the release name when it already contains the chart name. */}}
{{- define "checkpoint-exporter.fullname" -}}
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

{{- define "checkpoint-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels the DaemonSet selects its pods by; the Service, PodMonitor and NetworkPolicy use them too. */}}
{{- define "checkpoint-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "checkpoint-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "checkpoint-exporter.labels" -}}
{{ include "checkpoint-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ include "checkpoint-exporter.chart" . }}
{{- end }}

{{- define "checkpoint-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "checkpoint-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* repository:tag, or repository:tag@digest when a digest is given. */}}
{{- define "checkpoint-exporter.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* Where the policy ConfigMap is mounted, and the file passed with --config. */}}
{{- define "checkpoint-exporter.policyDir" -}}
/etc/checkpoint-exporter
{{- end }}

{{/* The policy value as file content: a string as it is, anything else as YAML. */}}
{{- define "checkpoint-exporter.policyText" -}}
{{- if kindIs "string" .Values.policy }}
{{- .Values.policy }}
{{- else }}
{{- toYaml .Values.policy }}
{{- end }}
{{- end }}

{{/*
The relabelings every scrape of the exporter needs, for the ServiceMonitor and the PodMonitor alike:
the job the alerts select; the node as `node`; the node as `instance`, which survives pod restarts, so
rate windows, predict_linear and for: clocks do not reset; and no target namespace/pod/container labels,
which would clash with the exporter's own labels of the same names (those describe the checkpointed
workload) and rename them to exported_*.
*/}}
{{- define "checkpoint-exporter.relabelings" -}}
- action: replace
  targetLabel: job
  replacement: {{ .Values.job | quote }}
- action: replace
  sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: node
- action: replace
  sourceLabels: [__meta_kubernetes_pod_node_name]
  targetLabel: instance
- action: labeldrop
  regex: (namespace|pod|container)
{{- end }}
