{{- define "steadfast.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "steadfast.fullname" -}}
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

{{- define "steadfast.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "steadfast.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "steadfast.selectorLabels" -}}
app.kubernetes.io/name: {{ include "steadfast.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Selector labels of one component: (dict "root" $ "component" "worker") */}}
{{- define "steadfast.componentSelector" -}}
{{ include "steadfast.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "steadfast.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "steadfast.workerServiceAccount" -}}
{{- default (printf "%s-worker" (include "steadfast.fullname" .)) .Values.serviceAccount.name }}
{{- end }}

{{- define "steadfast.botServiceAccount" -}}
{{- printf "%s-bot" (include "steadfast.fullname" .) }}
{{- end }}

{{- define "steadfast.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "steadfast.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{/* One env var from a Secret: (dict "root" $ "env" "NAME" "ref" .Values.secrets.x) */}}
{{- define "steadfast.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
      name: {{ default .root.Values.secrets.existingSecret .ref.name | required (printf "secrets.existingSecret (or a name for %s) is required" .env) }}
      key: {{ .ref.key }}
{{- end }}

{{/* Environment both processes share. SLACK_BOT_TOKEN is not here: only the bot talks to
Slack (the worker writes outbox rows and the bot sends them). */}}
{{- define "steadfast.commonEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: HOME
  value: /tmp
- name: STEADFAST_HEALTH_PORT
  value: {{ .Values.healthPort | quote }}
- name: STEADFAST_POLICY
  value: {{ printf "%s/policy.yaml" .Values.policy.mountPath | quote }}
- name: STEADFAST_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: STEADFAST_LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
{{- with .Values.tracing.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ . | quote }}
{{- end }}
{{ include "steadfast.secretEnv" (dict "root" . "env" "STEADFAST_DATABASE_URL" "ref" .Values.secrets.databaseUrl) }}
{{- range $k, $v := .Values.env }}
- name: {{ $k }}
  value: {{ $v | toString | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "steadfast.volumes" -}}
- name: policy
  configMap:
    name: {{ include "steadfast.policyConfigMap" . }}
    items:
      - key: {{ .Values.policy.key }}
        path: policy.yaml
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- with .Values.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* No subPath on the policy mount: subPath mounts never see ConfigMap updates. */}}
{{- define "steadfast.volumeMounts" -}}
- name: policy
  mountPath: {{ .Values.policy.mountPath }}
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- with .Values.extraVolumeMounts }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* envFrom for the bot and worker containers (extraEnvFrom: ConfigMaps/Secrets you manage). */}}
{{- define "steadfast.envFrom" -}}
{{- with .Values.extraEnvFrom }}
envFrom:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod-level placement of one component: (dict "root" $ "component" "worker" "values" .Values.worker).
A spread constraint without a labelSelector gets the component's own selector. */}}
{{- define "steadfast.podPlacement" -}}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- if .values.topologySpreadConstraints }}
{{- $selector := include "steadfast.componentSelector" (dict "root" .root "component" .component) | fromYaml }}
{{- $constraints := list }}
{{- range .values.topologySpreadConstraints }}
{{- $c := deepCopy . }}
{{- if not (hasKey $c "labelSelector") }}
{{- $_ := set $c "labelSelector" (dict "matchLabels" $selector) }}
{{- end }}
{{- $constraints = append $constraints $c }}
{{- end }}
topologySpreadConstraints:
  {{- toYaml $constraints | nindent 2 }}
{{- end }}
{{- end }}

{{- define "steadfast.probes" -}}
startupProbe:
  httpGet: {path: /healthz, port: health}
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet: {path: /healthz, port: health}
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet: {path: /readyz, port: health}
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

{{/* Namespaces a namespaced Role is created in. */}}
{{- define "steadfast.rbacNamespaces" -}}
{{- if .Values.rbac.namespaces }}{{ join "," .Values.rbac.namespaces }}{{ else }}{{ .Release.Namespace }}{{ end }}
{{- end }}

{{/* The worker's model provider settings (docs/model-providers.md); credentials come from the
cloud's own chain (the ServiceAccount's IRSA / Workload Identity annotation) or a Secret. */}}
{{- define "steadfast.modelProviderEnv" -}}
{{- $m := .Values.model -}}
{{- $uses := list $m.provider $m.fallback.provider -}}
- name: STEADFAST_MODEL_PROVIDER
  value: {{ $m.provider | quote }}
{{- if has "bedrock" $uses }}
- name: STEADFAST_BEDROCK_MODEL
  value: {{ required "model.bedrock.model is required for Bedrock" $m.bedrock.model | quote }}
- name: STEADFAST_BEDROCK_REGION
  value: {{ required "model.bedrock.region is required for Bedrock" $m.bedrock.region | quote }}
{{- with $m.bedrock.baseUrl }}
- name: STEADFAST_BEDROCK_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- with $m.bedrock.credentialsSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: AWS_ACCESS_KEY_ID}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: AWS_SECRET_ACCESS_KEY}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef: {name: {{ . }}, key: AWS_SESSION_TOKEN, optional: true}
{{- end }}
{{- end }}
{{- if has "vertex" $uses }}
- name: STEADFAST_VERTEX_MODEL
  value: {{ required "model.vertex.model is required for Vertex AI" $m.vertex.model | quote }}
- name: STEADFAST_VERTEX_REGION
  value: {{ required "model.vertex.region is required for Vertex AI" $m.vertex.region | quote }}
- name: STEADFAST_VERTEX_PROJECT
  value: {{ required "model.vertex.project is required for Vertex AI" $m.vertex.project | quote }}
{{- with $m.vertex.baseUrl }}
- name: STEADFAST_VERTEX_BASE_URL
  value: {{ . | quote }}
{{- end }}
{{- if $m.vertex.credentialsSecret }}
- name: GOOGLE_APPLICATION_CREDENTIALS
  value: /var/run/secrets/steadfast/google/credentials.json
{{- end }}
{{- end }}
{{- with $m.fallback.provider }}
- name: STEADFAST_MODEL_FALLBACK_PROVIDER
  value: {{ . | quote }}
{{- end }}
{{- with $m.fallback.model }}
- name: STEADFAST_MODEL_FALLBACK_MODEL
  value: {{ . | quote }}
{{- end }}
{{- end }}
