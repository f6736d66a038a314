package config

import (
	"fmt"
	"slices"
)

// DescribeTopic answers DescribeConfigs for a topic with the given
// overrides. names selects configs (nil: all, sorted by name; names that are
// not topic configs are left out, as Kafka does). With synonyms, each entry
// lists where its value could come from, most specific first: the topic
// override, then each broker synonym set dynamically for this broker, as a
// dynamic cluster default, statically (server.properties), and finally the
// broker synonyms' defaults. With docs, each entry carries its description.
//
// The error reports overrides that are unknown or invalid: stored overrides
// are validated when set, so this means they were damaged.
//
// One difference from Kafka: Kafka lists a topic's coarse fallbacks
// (log.retention.minutes/hours, log.roll.hours, log.roll.jitter.hours,
// log.flush.scheduler.interval.ms) only when the first synonym of the chain
// is set too, a side effect of how it filters listener overrides; otherwise
// it lists no synonym and reports DEFAULT_CONFIG, even when server.properties
// set log.retention.hours=24. samsa always lists them, and reports the
// source of the value in effect.
func (b *Broker) DescribeTopic(overrides map[string]string, names []string, synonyms, docs bool) ([]Entry, error) {
	for _, name := range sortedKeys(overrides) {
		if err := ValidateTopicConfig(name, overrides[name]); err != nil {
			return nil, fmt.Errorf("config: stored topic overrides are invalid: %w", err)
		}
	}
	var out []Entry
	for _, def := range selectDefs(topicDefs, topicByName, names) {
		value, source := b.topicValue(def, overrides)
		e := Entry{
			Name:      def.Name,
			Value:     ptr(canonical(def, value)),
			Source:    source,
			Sensitive: def.Type == TypePassword,
			Type:      int8(def.Type),
		}
		if e.Sensitive {
			e.Value = nil
		}
		if docs {
			e.Doc = def.Doc
		}
		if synonyms {
			if _, ok := overrides[def.Name]; ok {
				e.Synonyms = append(e.Synonyms, Synonym{Name: def.Name, Value: e.Value, Source: SourceTopic})
			}
			e.Synonyms = append(e.Synonyms, b.brokerSynonyms(def.Synonyms)...)
		}
		out = append(out, e)
	}
	return out, nil
}

// DescribeBroker answers DescribeConfigs for this broker. names selects
// configs (nil: all supported ones, sorted by name; unknown and ignored
// names are left out). An entry's Value is the config's own value (nil for
// a null default nothing set, e.g. log.retention.ms when only
// log.retention.hours is given); its synonyms are the config itself and the
// coarser configs it falls back to (log.retention.ms lists
// log.retention.minutes and log.retention.hours too), grouped by source,
// most specific source first, as Kafka orders them.
func (b *Broker) DescribeBroker(names []string, synonyms, docs bool) []Entry {
	var out []Entry
	for _, def := range selectDefs(brokerDefs, brokerByName, names) {
		e := Entry{
			Name:      def.Name,
			Source:    SourceDefault,
			ReadOnly:  def.Mode == ReadOnly,
			Sensitive: def.Type == TypePassword,
			Type:      int8(def.Type),
		}
		if v, ok := b.lookup(def.Name); ok {
			e.Source = v.Source
			if !e.Sensitive {
				e.Value = ptr(canonical(def, v.Value))
			}
		}
		if docs {
			e.Doc = def.Doc
		}
		if synonyms {
			e.Synonyms = b.brokerSynonyms(fallbackChain(def.Name))
		}
		out = append(out, e)
	}
	return out
}

// brokerSynonyms lists the values of the given broker configs, source by
// source (dynamic per-broker, dynamic default, static, default) and, within
// a source, in the given order.
func (b *Broker) brokerSynonyms(names []string) []Synonym {
	var out []Synonym
	for _, source := range []int8{SourceDynamicBroker, SourceDynamicDefault, SourceStatic, SourceDefault} {
		for _, n := range names {
			var raw string
			if source == SourceDefault {
				v, ok := b.defaultOf(n)
				if !ok {
					continue
				}
				raw = v
			} else {
				v, ok := b.layer(source)[n]
				if !ok {
					continue
				}
				raw = v.Value
			}
			s := Synonym{Name: n, Value: ptr(raw), Source: source}
			if def := brokerByName[n]; def != nil && def.Type == TypePassword {
				s.Value = nil
			}
			out = append(out, s)
		}
	}
	return out
}

// fallbackChain returns name and the broker configs it falls back to when
// unset: log.retention.ms → minutes → hours; log.roll.hours alone.
func fallbackChain(name string) []string {
	for _, d := range topicDefs {
		if i := slices.Index(d.Synonyms, name); i >= 0 {
			return d.Synonyms[i:]
		}
	}
	return []string{name}
}

// selectDefs returns the definitions named (in the order asked, unknown
// names and repeats dropped), or all of them sorted by name.
func selectDefs(all []*Def, byName map[string]*Def, names []string) []*Def {
	if names == nil {
		return sortedDefs(all)
	}
	var out []*Def
	seen := map[string]bool{}
	for _, n := range names {
		if d := byName[n]; d != nil && !seen[n] {
			seen[n] = true
			out = append(out, d)
		}
	}
	return out
}

func ptr(s string) *string { return &s }

// DescribeClusterDefaults answers DescribeConfigs for the broker resource ""
// (the cluster-wide defaults). As in Kafka, it lists only the configs set
// as dynamic cluster defaults (DYNAMIC_DEFAULT_BROKER_CONFIG), each with
// that value and, with synonyms, only synonyms of that source.
func (b *Broker) DescribeClusterDefaults(names []string, synonyms, docs bool) []Entry {
	var out []Entry
	for _, def := range selectDefs(brokerDefs, brokerByName, names) {
		v, ok := b.dynDefault[def.Name]
		if !ok {
			continue
		}
		e := Entry{
			Name:      def.Name,
			Source:    SourceDynamicDefault,
			ReadOnly:  def.Mode == ReadOnly,
			Sensitive: def.Type == TypePassword,
			Type:      int8(def.Type),
		}
		if !e.Sensitive {
			e.Value = ptr(canonical(def, v.Value))
		}
		if docs {
			e.Doc = def.Doc
		}
		if synonyms {
			for _, s := range b.brokerSynonyms(fallbackChain(def.Name)) {
				if s.Source == SourceDynamicDefault {
					e.Synonyms = append(e.Synonyms, s)
				}
			}
		}
		out = append(out, e)
	}
	return out
}
