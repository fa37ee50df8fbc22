"""Re-enables Prometheus' OTLP receiver in Debian's patched 3.5.3 tree (which dropped it).
usage: restore_otlp.py DEBIAN_TREE ORIG_TREE   (edits DEBIAN_TREE in place; idempotent)"""
import os, shutil, sys
S, O = sys.argv[1], sys.argv[2]
def rd(p): return open(os.path.join(S, p)).read()
def wr(p, t): open(os.path.join(S, p), "w").write(t)
def sub(p, old, new):
    t = rd(p)
    if new in t: return
    assert old in t, f"{p}: anchor not found: {old[:60]!r}"
    wr(p, t.replace(old, new, 1))

# 1. translator package + the 3 files whose only Debian change was the OTLP removal
d = os.path.join(S, "storage/remote/otlptranslator")
if not os.path.isdir(d):
    shutil.copytree(os.path.join(O, "storage/remote/otlptranslator"), d)
    for root, _, fs in os.walk(d):
        for f in fs:
            if f.endswith("_test.go"): os.remove(os.path.join(root, f))
for f in ["storage/remote/codec.go", "storage/remote/write_handler.go", "web/api/v1/api.go"]:
    shutil.copy(os.path.join(O, f), os.path.join(S, f))
pd = "storage/remote/otlptranslator/prometheusremotewrite/"

# 2. go.opentelemetry.io/collector/semconv was removed from the collector (absent from Debian's 0.152);
#    it only supplied three attribute-name constants.
t = rd(pd + "helper.go")
t = t.replace('\tconventions "go.opentelemetry.io/collector/semconv/v1.6.1"\n', "")
t = t.replace("conventions.AttributeServiceNamespace", '"service.namespace"') \
     .replace("conventions.AttributeServiceInstanceID", '"service.instance.id"') \
     .replace("conventions.AttributeServiceName", '"service.name"')
# 3. Debian has github.com/prometheus/otlptranslator 1.0.0; 3.5.3 pins a May-2025 pseudo-version
#    (NormalizeLabel(string) string; MetricNamer.Build(..) string).
t = t.replace("otlptranslator.NormalizeLabel(", "normalizeLabel(")
if "otlptranslator." not in t:
    t = t.replace('\t"github.com/prometheus/otlptranslator"\n', "")
wr(pd + "helper.go", t)
open(os.path.join(S, pd + "otlptranslator_compat.go"), "w").write("""package prometheusremotewrite

import "github.com/prometheus/otlptranslator"

// normalizeLabel reproduces the pre-1.0 otlptranslator.NormalizeLabel on top of otlptranslator 1.0.
func normalizeLabel(label string) string {
	ln := otlptranslator.LabelNamer{UnderscoreLabelSanitization: true, PreserveMultipleUnderscores: true}
	if out, err := ln.Build(label); err == nil {
		return out
	}
	return label
}
""")
sub(pd + "metrics_to_prw.go", "\t\t\t\tpromName := namer.Build(TranslatorMetricFromOtelMetric(metric))\n",
    "\t\t\t\tpromName, err := namer.Build(TranslatorMetricFromOtelMetric(metric))\n"
    "\t\t\t\tif err != nil {\n\t\t\t\t\terrs = multierr.Append(errs, err)\n\t\t\t\t\tcontinue\n\t\t\t\t}\n")

# 4. opentelemetry-collector-contrib's deltatocumulativeprocessor is not in Debian:
#    keep the rest, refuse --enable-feature=otlp-deltatocumulative.
w = "storage/remote/write_handler.go"
t = rd(w)
for imp in ['\tdeltatocumulative "github.com/open-telemetry/opentelemetry-collector-contrib/processor/deltatocumulativeprocessor"\n',
            '\t"go.opentelemetry.io/collector/component"\n', '\t"go.opentelemetry.io/collector/processor"\n',
            '\t"go.opentelemetry.io/otel/metric/noop"\n']:
    t = t.replace(imp, "")
end = "\t\twh.d2cConsumer = d2c\n\t}\n"
if "deltatocumulative.NewFactory()" in t:
    a = t.index("\tif opts.ConvertDelta {\n\t\tfac := deltatocumulative.NewFactory()")
    b = t.index(end, a) + len(end)
    t = t[:a] + ('\tif opts.ConvertDelta {\n\t\t// Debian lacks opentelemetry-collector-contrib/processor/deltatocumulativeprocessor.\n'
                 '\t\tpanic("otlp-deltatocumulative is not supported in this build")\n\t}\n') + t[b:]
wr(w, t)

# 5. web.go: options + wiring (Debian's asset-serving changes kept)
sub("web/web.go", "\tEnableRemoteWriteReceiver  bool\n",
    "\tEnableRemoteWriteReceiver  bool\n\tEnableOTLPWriteReceiver    bool\n\tConvertOTLPDelta           bool\n\tNativeOTLPDeltaIngestion   bool\n")
sub("web/web.go", "\tif o.EnableRemoteWriteReceiver {\n\t\tapp = h.storage",
    "\tif o.EnableRemoteWriteReceiver || o.EnableOTLPWriteReceiver {\n\t\tapp = h.storage")
sub("web/web.go", "\t\to.AcceptRemoteWriteProtoMsgs,\n\t\to.CTZeroIngestionEnabled,",
    "\t\to.AcceptRemoteWriteProtoMsgs,\n\t\to.EnableOTLPWriteReceiver,\n\t\to.ConvertOTLPDelta,\n\t\to.NativeOTLPDeltaIngestion,\n\t\to.CTZeroIngestionEnabled,")

# 6. main.go: --web.enable-otlp-receiver + the two OTLP feature flags
m = "cmd/prometheus/main.go"
sub(m, '\t\t\tcase "type-and-unit-labels":',
    '\t\t\tcase "otlp-deltatocumulative":\n\t\t\t\tc.web.ConvertOTLPDelta = true\n'
    '\t\t\t\tlogger.Info("Converting delta OTLP metrics to cumulative")\n'
    '\t\t\tcase "otlp-native-delta-ingestion":\n\t\t\t\tc.web.NativeOTLPDeltaIngestion = true\n'
    '\t\t\t\tlogger.Info("Enabling native ingestion of delta OTLP metrics (experimental)")\n'
    '\t\t\tcase "type-and-unit-labels":')
t = rd(m)
if "web.enable-otlp-receiver" not in t:
    i = t.index('\ta.Flag("web.console.templates"')
    t = t[:i] + ('\ta.Flag("web.enable-otlp-receiver", "Enable API endpoint accepting OTLP write requests.").\n'
                 '\t\tDefault("false").BoolVar(&cfg.web.EnableOTLPWriteReceiver)\n\n') + t[i:]
    wr(m, t)
print("OTLP receiver restored in", S)
