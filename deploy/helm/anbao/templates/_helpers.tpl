{{/* Names. The StatefulSet's name is at most 28 characters so that a pod name (<name>-<ordinal>)
     is a valid cluster.node_id: lower-case letters, digits and '-', 32 at most. */}}
{{- define "anbao.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "anbao.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 28 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 28 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 28 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "anbao.selectorLabels" -}}
app.kubernetes.io/name: {{ include "anbao.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "anbao.commonLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "anbao.labels" -}}
{{ include "anbao.commonLabels" . }}
app.kubernetes.io/name: {{ include "anbao.name" . }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "anbao.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "anbao.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "anbao.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where things are mounted in the pod. */}}
{{- define "anbao.dataDir" -}}/var/lib/anbao{{- end -}}
{{- define "anbao.keysDir" -}}/etc/anbao/keys{{- end -}}
{{- define "anbao.port" -}}8443{{- end -}}

{{/* anbao.toml: the operator's config with what the chart owns laid over it. */}}
{{- define "anbao.toml" -}}
{{- $config := deepCopy .Values.config -}}
{{- $_ := set $config "data_dir" (include "anbao.dataDir" .) -}}
{{- $server := default dict (get $config "server") -}}
{{- $_ := set $server "host" "0.0.0.0" -}}
{{- $_ := set $server "port" (include "anbao.port" . | int) -}}
{{- if .Values.tls.existingSecret -}}
{{- $_ := set $server "tls_cert_file" "/etc/anbao/tls/tls.crt" -}}
{{- $_ := set $server "tls_key_file" "/etc/anbao/tls/tls.key" -}}
{{- end -}}
{{- $_ := set $config "server" $server -}}
{{- if .Values.migrations.job.enabled -}}
{{- $seals := default dict (get $config "seals") -}}
{{- $_ := set $seals "auto_migrate" false -}}
{{- $_ := set $config "seals" $seals -}}
{{- end -}}
{{- if .Values.elasticsearchCA.secret -}}
{{- $es := default dict (get $config "elasticsearch") -}}
{{- $_ := set $es "ca_file" (printf "/etc/anbao/es-ca/%s" .Values.elasticsearchCA.key) -}}
{{- $_ := set $config "elasticsearch" $es -}}
{{- end -}}
{{- if .Values.keys.existingSecret -}}
{{- range $file, $setting := .Values.keys.files -}}
{{- $parts := splitList "." $setting -}}
{{- $section := default dict (get $config (first $parts)) -}}
{{- $_ := set $section (last $parts) (printf "%s/%s" (include "anbao.keysDir" $) $file) -}}
{{- $_ := set $config (first $parts) $section -}}
{{- end -}}
{{- end -}}
{{- include "anbao.renderToml" $config -}}
{{- end -}}

{{/* TOML of anbao.toml's shape: top-level scalars, then [section] tables of scalars. Helm reads
     YAML numbers as floats; whole ones are written as integers (workers = 2, not 2.0). */}}
{{- define "anbao.renderToml" -}}
# Rendered by the Helm chart from values.config; secrets come from the environment (ANBAO_*).
{{- range $key, $value := . }}{{ if ne (kindOf $value) "map" }}
{{ $key }} = {{ include "anbao.tomlValue" (list $key $value) }}
{{- end }}{{ end }}
{{- range $section, $table := . }}{{ if eq (kindOf $table) "map" }}

[{{ $section }}]
{{- range $key, $value := $table }}
{{ $key }} = {{ include "anbao.tomlValue" (list (printf "%s.%s" $section $key) $value) }}
{{- end }}
{{- end }}{{ end }}
{{- end -}}

{{- define "anbao.tomlValue" -}}
{{- $name := index . 0 -}}
{{- $value := index . 1 -}}
{{- $kind := kindOf $value -}}
{{- if eq $kind "bool" -}}
{{- $value -}}
{{- else if has $kind (list "float64" "int" "int64") -}}
{{- if eq (float64 $value) (floor $value) }}{{ int64 $value }}{{ else }}{{ $value }}{{ end -}}
{{- else if eq $kind "string" -}}
{{- toJson $value -}}
{{- else -}}
{{- fail (printf "config.%s: a setting is a string, a number or a boolean (got %s)" $name $kind) -}}
{{- end -}}
{{- end -}}

{{/* Pod resources: per-worker figures times server.workers, plus the node's fixed share. */}}
{{- define "anbao.resources" -}}
{{- if .Values.resources.override -}}
{{- toYaml .Values.resources.override -}}
{{- else -}}
{{- $r := .Values.resources -}}
{{- $workers := int (default 1 (get (default dict .Values.config.server) "workers")) -}}
{{- $cpuPer := int (trimSuffix "m" (toString $r.perWorker.cpu)) -}}
{{- $cpuFixed := int (trimSuffix "m" (toString $r.fixed.cpu)) -}}
{{- $memReq := add (mul $workers (int $r.perWorker.memoryMi)) (int $r.fixed.memoryMi) -}}
{{- $memLim := add (mul $workers (int (mulf (int $r.perWorker.memoryMi) (float64 $r.limitFactor)))) (int $r.fixed.memoryMi) -}}
requests:
  cpu: {{ add (mul $workers $cpuPer) $cpuFixed }}m
  memory: {{ $memReq }}Mi
limits:
  memory: {{ $memLim }}Mi
{{- end -}}
{{- end -}}
