{{/* The pod parts shared by the nodes (statefulset.yaml) and the migration Job (migrate-job.yaml):
     the same configuration, secrets and trust, so a migration sees what the nodes will. */}}
{{- define "anbao.env" -}}
- name: ANBAO_CONFIG
  value: /etc/anbao/anbao.toml
- name: HOME
  value: /tmp
- name: PYTHONDONTWRITEBYTECODE
  value: "1"
{{- if .Values.trustBundle.secret }}
- name: SSL_CERT_FILE
  value: /etc/anbao/trust/{{ .Values.trustBundle.key }}
- name: REQUESTS_CA_BUNDLE
  value: /etc/anbao/trust/{{ .Values.trustBundle.key }}
{{- end }}
{{- range $name, $ref := .Values.secretEnv }}
{{- if and $ref (or $.Values.cluster.enabled (ne $name "ANBAO_CLUSTER_DATABASE_URL")) }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ default $.Values.existingSecret $ref.secret }}
      key: {{ required (printf "secretEnv.%s.key is required" $name) $ref.key }}
      {{- if $ref.optional }}
      optional: true
      {{- end }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "anbao.volumeMounts" -}}
- name: config
  mountPath: /etc/anbao/anbao.toml
  subPath: anbao.toml
  readOnly: true
- name: data
  mountPath: {{ include "anbao.dataDir" . }}
- name: tmp
  mountPath: /tmp
{{- if .Values.keys.existingSecret }}
- name: keys
  mountPath: {{ include "anbao.keysDir" . }}
  readOnly: true
{{- end }}
{{- if .Values.elasticsearchCA.secret }}
- name: es-ca
  mountPath: /etc/anbao/es-ca
  readOnly: true
{{- end }}
{{- if .Values.trustBundle.secret }}
- name: trust
  mountPath: /etc/anbao/trust
  readOnly: true
{{- end }}
{{- if .Values.tls.existingSecret }}
- name: tls
  mountPath: /etc/anbao/tls
  readOnly: true
{{- end }}
{{- end -}}

{{- define "anbao.volumes" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- if .Values.keys.existingSecret }}
- name: keys
  secret:
    secretName: {{ .Values.keys.existingSecret }}
    defaultMode: 0440
    items:
      {{- range $file, $setting := .Values.keys.files }}
      - key: {{ $file }}
        path: {{ $file }}
      {{- end }}
{{- end }}
{{- if .Values.elasticsearchCA.secret }}
- name: es-ca
  secret:
    secretName: {{ .Values.elasticsearchCA.secret }}
    defaultMode: 0444
    items:
      - key: {{ .Values.elasticsearchCA.key }}
        path: {{ .Values.elasticsearchCA.key }}
{{- end }}
{{- if .Values.trustBundle.secret }}
- name: trust
  secret:
    secretName: {{ .Values.trustBundle.secret }}
    defaultMode: 0444
    items:
      - key: {{ .Values.trustBundle.key }}
        path: {{ .Values.trustBundle.key }}
{{- end }}
{{- if .Values.tls.existingSecret }}
- name: tls
  secret:
    secretName: {{ .Values.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end -}}
