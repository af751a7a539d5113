{{/*
What a ServiceMonitor or PodMonitor endpoint needs to scrape a secured exporter. With auth.mode
kubernetes: the bearer token, from auth.tokenSecret when set, else (ServiceMonitor only) the token file
of Prometheus's own service account. Called with (dict "root" $ "monitor" "ServiceMonitor"|"PodMonitor").
*/}}
{{- define "checkpoint-exporter.scrapeAuth" -}}
{{- $auth := .root.Values.auth }}
{{- if eq $auth.mode "kubernetes" }}
{{- if $auth.tokenSecret.name }}
authorization:
  type: Bearer
  credentials:
    name: {{ $auth.tokenSecret.name }}
    key: {{ $auth.tokenSecret.key }}
{{- else if eq .monitor "PodMonitor" }}
{{- fail "podMonitor with auth.mode kubernetes needs auth.tokenSecret.name: a PodMonitor sends a token from a Secret, not from a file" }}
{{- else }}
bearerTokenFile: {{ required "auth.bearerTokenFile or auth.tokenSecret.name is required with auth.mode kubernetes" $auth.bearerTokenFile }}
{{- end }}
{{- end }}
{{- end }}

{{/*
When the exporter serves TLS (checkpoint-exporter.webTls): https, the CA of scrapeTls (a Secret or
ConfigMap key, or for a ServiceMonitor a file in the Prometheus pod) and the name the certificate is
checked for. Called like scrapeAuth.
*/}}
{{- define "checkpoint-exporter.scrapeTls" -}}
{{- $tls := .root.Values.scrapeTls }}
{{- if include "checkpoint-exporter.webTls" .root }}
{{- if and (not $tls.ca) (not $tls.caFile) }}
{{- fail "the exporter serves TLS: scrapeTls.ca (a Secret or ConfigMap key) or scrapeTls.caFile must say which CA Prometheus checks its certificate against" }}
{{- end }}
{{- if and $tls.caFile (not $tls.ca) (eq .monitor "PodMonitor") }}
{{- fail "podMonitor with TLS needs scrapeTls.ca: a PodMonitor reads the CA from a Secret or ConfigMap, not from a file" }}
{{- end }}
scheme: https
tlsConfig:
  {{- with $tls.ca }}
  ca:
    {{- toYaml . | nindent 4 }}
  {{- else }}
  caFile: {{ $tls.caFile }}
  {{- end }}
  {{- with $tls.serverName }}
  serverName: {{ . }}
  {{- end }}
{{- end }}
{{- end }}
