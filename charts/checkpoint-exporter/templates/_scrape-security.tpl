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
