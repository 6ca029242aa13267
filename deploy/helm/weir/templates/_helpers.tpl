{{/* The release's resource name, at most 63 characters. */}}
{{- define "weir.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "weir.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "weir.labels" -}}
{{ include "weir.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "weir.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weir.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Where the Secret's keys are files. */}}
{{- define "weir.secretDir" -}}/etc/weir/secrets{{- end -}}

{{/* The Secret weir reads ("" when none). */}}
{{- define "weir.secretName" -}}
{{- if and .Values.secret.name .Values.secret.create -}}
{{- fail "secret: set name (an existing Secret) or create (keys and values of one the chart makes), not both" -}}
{{- end -}}
{{- if .Values.secret.name -}}
{{- .Values.secret.name -}}
{{- else if .Values.secret.create -}}
{{- include "weir.fullname" . -}}
{{- end -}}
{{- end -}}

{{/* A key of the Secret as the file weir reads; fails when no Secret is
mounted or the chart's own Secret lacks the key. */}}
{{- define "weir.secretFile" -}}
{{- $root := index . 0 -}}
{{- $field := index . 1 -}}
{{- $key := index . 2 -}}
{{- if not (include "weir.secretName" $root) -}}
{{- fail (printf "%s names the Secret key %q, but no Secret is mounted: set secret.name or secret.create" $field $key) -}}
{{- end -}}
{{- if and $root.Values.secret.create (not (hasKey $root.Values.secret.create $key)) -}}
{{- fail (printf "%s names the Secret key %q, which secret.create does not have (it has: %s)" $field $key (keys $root.Values.secret.create | sortAlpha | join ", ")) -}}
{{- end -}}
{{- printf "%s/%s" (include "weir.secretDir" $root) $key -}}
{{- end -}}

{{/* The consumer-group bound: input partitions, and the group members one
process runs. */}}
{{- define "weir.partitions" -}}
{{- add (int .Values.kafka.partitions.spans) (int .Values.kafka.partitions.metrics) -}}
{{- end -}}
{{- define "weir.workers" -}}
{{- $w := int (default 1 .Values.config.kafka.workers) -}}
{{- if lt $w 1 }}{{ fail (printf "config.kafka.workers: %d is not a positive count" $w) }}{{ end -}}
{{- $w -}}
{{- end -}}

{{/* Fails when n processes would hold more group members than there are
input partitions. */}}
{{- define "weir.checkBound" -}}
{{- $root := index . 0 -}}
{{- $field := index . 1 -}}
{{- $n := int (index . 2) -}}
{{- $parts := int (include "weir.partitions" $root) -}}
{{- $workers := int (include "weir.workers" $root) -}}
{{- if gt (mul $n $workers) $parts -}}
{{- fail (printf "%s: %d replicas × %d workers (config.kafka.workers) = %d consumer-group members, more than the %d input partitions (kafka.partitions: spans %d + metrics %d). weir scales out through Kafka's consumer group: a member beyond the partition count owns no partition and idles. Lower %s to at most %d, or add partitions to the topics and raise kafka.partitions" $field $n $workers (mul $n $workers) $parts (int $root.Values.kafka.partitions.spans) (int $root.Values.kafka.partitions.metrics) $field (div $parts $workers)) -}}
{{- end -}}
{{- end -}}

{{/* weir.yaml: the config value with the chart's listen address and the
Kafka security settings of the kafka values. */}}
{{- define "weir.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- if hasKey $cfg "listen" -}}
{{- fail "config.listen: set by the chart (0.0.0.0:<service.port>, where the probes and the Service reach weir); set service.port instead" -}}
{{- end -}}
{{- $_ := set $cfg "listen" (printf "0.0.0.0:%d" (int .Values.service.port)) -}}
{{- $kafka := default dict $cfg.kafka -}}
{{- if and (hasKey $kafka "auth") .Values.kafka.sasl.mechanism -}}
{{- fail "config.kafka.auth and kafka.sasl both set: set kafka.sasl (the chart writes config.kafka.auth from it)" -}}
{{- end -}}
{{- if and (hasKey $kafka "tls") .Values.kafka.tls.enabled -}}
{{- fail "config.kafka.tls and kafka.tls both set: set kafka.tls (the chart writes config.kafka.tls from it)" -}}
{{- end -}}
{{- with .Values.kafka.sasl -}}
{{- if .mechanism -}}
{{- if not (has .mechanism (list "PLAIN" "SCRAM-SHA-256" "SCRAM-SHA-512")) -}}
{{- fail (printf "kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512" .mechanism) -}}
{{- end -}}
{{- if or (not .username) (not .passwordKey) -}}
{{- fail "kafka.sasl: a mechanism needs username and passwordKey (the Secret key holding the password)" -}}
{{- end -}}
{{- $sasl := dict "mechanism" .mechanism "username" .username "password_file" (include "weir.secretFile" (list $ "kafka.sasl.passwordKey" .passwordKey)) -}}
{{- $_ := set $kafka "auth" (dict "sasl" $sasl) -}}
{{- end -}}
{{- end -}}
{{- with .Values.kafka.tls -}}
{{- if .enabled -}}
{{- $tls := dict -}}
{{- if .caKey }}{{ $_ := set $tls "ca_file" (include "weir.secretFile" (list $ "kafka.tls.caKey" .caKey)) }}{{ end -}}
{{- if ne (empty .certKey) (empty .keyKey) }}{{ fail "kafka.tls: certKey and keyKey go together (a client certificate and its key)" }}{{ end -}}
{{- if .certKey }}{{ $_ := set $tls "cert_file" (include "weir.secretFile" (list $ "kafka.tls.certKey" .certKey)) }}{{ end -}}
{{- if .keyKey }}{{ $_ := set $tls "key_file" (include "weir.secretFile" (list $ "kafka.tls.keyKey" .keyKey)) }}{{ end -}}
{{- if .serverName }}{{ $_ := set $tls "server_name" .serverName }}{{ end -}}
{{- if .insecureSkipVerify }}{{ $_ := set $tls "insecure_skip_verify" true }}{{ end -}}
{{- $_ := set $kafka "tls" $tls -}}
{{- end -}}
{{- end -}}
{{- $_ := set $cfg "kafka" $kafka -}}
{{- toYaml $cfg -}}
{{- end -}}
