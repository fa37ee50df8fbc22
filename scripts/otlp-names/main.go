// otlp-names prints the Prometheus names that Prometheus' own OTLP translation gives to
// metrics and attribute keys: the github.com/prometheus/otlptranslator library with the
// UnderscoreEscapingWithSuffixes strategy (what prometheus/prometheus.yml configures).
//
// Input on stdin: {"metrics": [{"name": "...", "unit": "...", "type": "..."}], "labels": ["..."]}
// with type one of monotonic_counter, non_monotonic_counter, gauge, histogram.
// Output on stdout: {"metrics": {"<otel name>": "<prometheus name>"}, "labels": {"<key>": "<label>"}}.
// A name the library refuses is an error on stderr and exit status 1.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/prometheus/otlptranslator"
)

type metric struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
	Type string `json:"type"`
}

type input struct {
	Metrics []metric `json:"metrics"`
	Labels  []string `json:"labels"`
}

type output struct {
	Metrics map[string]string `json:"metrics"`
	Labels  map[string]string `json:"labels"`
}

var types = map[string]otlptranslator.MetricType{
	"monotonic_counter":     otlptranslator.MetricTypeMonotonicCounter,
	"non_monotonic_counter": otlptranslator.MetricTypeNonMonotonicCounter,
	"gauge":                 otlptranslator.MetricTypeGauge,
	"histogram":             otlptranslator.MetricTypeHistogram,
}

func run() error {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		return fmt.Errorf("reading the input: %w", err)
	}
	metricNamer := otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes)
	labelNamer := otlptranslator.LabelNamer{UTF8Allowed: false}
	out := output{Metrics: map[string]string{}, Labels: map[string]string{}}
	for _, m := range in.Metrics {
		kind, ok := types[m.Type]
		if !ok {
			return fmt.Errorf("metric %q: unknown type %q", m.Name, m.Type)
		}
		name, err := metricNamer.Build(otlptranslator.Metric{Name: m.Name, Unit: m.Unit, Type: kind})
		if err != nil {
			return fmt.Errorf("metric %q: %w", m.Name, err)
		}
		out.Metrics[m.Name] = name
	}
	for _, key := range in.Labels {
		label, err := labelNamer.Build(key)
		if err != nil {
			return fmt.Errorf("attribute %q: %w", key, err)
		}
		out.Labels[key] = label
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "otlp-names:", err)
		os.Exit(1)
	}
}
