{{/* Where the web configuration Secret is mounted; the file passed with --web-config-file is web-config.yaml in it. */}}
{{- define "checkpoint-exporter.webConfigDir" -}}
/etc/checkpoint-exporter-web
{{- end }}

{{/* Where webConfig.tlsSecret is mounted: tls_server_config names its files here. */}}
{{- define "checkpoint-exporter.webTlsDir" -}}
/etc/checkpoint-exporter-tls
{{- end }}

{{/* The Secret holding web-config.yaml, or nothing when no web configuration is given. */}}
{{- define "checkpoint-exporter.webConfigSecret" -}}
{{- $web := .Values.webConfig }}
{{- if and $web.config $web.existingSecret }}
{{- fail "webConfig: set config or existingSecret, not both" }}
{{- end }}
{{- if $web.existingSecret }}
{{- $web.existingSecret }}
{{- else if $web.config }}
{{- printf "%s-web-config" (include "checkpoint-exporter.fullname" .) }}
{{- end }}
{{- end }}

{{/* "true" when the exporter serves HTTPS: tls_server_config in webConfig.config, or webConfig.tls for an existing Secret. */}}
{{- define "checkpoint-exporter.webTls" -}}
{{- $web := .Values.webConfig }}
{{- if and $web.tls (not (include "checkpoint-exporter.webConfigSecret" .)) }}
{{- fail "webConfig.tls: the exporter serves TLS only with a web configuration (webConfig.config or webConfig.existingSecret)" }}
{{- end }}
{{- if or $web.tls (hasKey $web.config "tls_server_config") }}true{{- end }}
{{- end }}

{{/*
A probe of the values, with scheme HTTPS when the exporter serves TLS: the kubelet does not verify the
certificate, and /healthz and /readyz need no credentials. Called with (dict "root" $ "probe" <probe>).
*/}}
{{- define "checkpoint-exporter.probe" -}}
{{- $probe := deepCopy .probe }}
{{- if and (include "checkpoint-exporter.webTls" .root) (hasKey $probe "httpGet") }}
{{- $_ := set $probe.httpGet "scheme" "HTTPS" }}
{{- end }}
{{- toYaml $probe }}
{{- end }}
