package config

import (
	"fmt"
	"slices"
	"strings"
)

// ApplyIncremental applies IncrementalAlterConfigs operations to a topic's
// current overrides and returns the new overrides; current is not modified.
//
// As in Kafka: SET stores the value (a nil value removes the override);
// DELETE removes the override (a no-op when there is none); APPEND and
// SUBTRACT work only on LIST configs and add the elements not yet present,
// or remove the ones given, starting from the current override or, when
// there is none, from the config's built-in default (Kafka's controller
// does the same, so APPEND "compact" to a topic without an override gives
// "delete,compact" whatever log.cleanup.policy says).
//
// Every resulting value is validated. The rules between configs are checked
// against built-in defaults only; callers should pass the result to
// Broker.ValidateTopicOverrides before storing it. A config named twice, or
// an unknown operation, is an error matching ErrInvalidRequest.
func ApplyIncremental(current map[string]string, ops []AlterOp) (map[string]string, error) {
	out, err := applyOps(current, ops, topicByName, "topic", ValidateTopicConfig)
	if err != nil {
		return nil, err
	}
	minLag, _ := parse(topicByName["min.compaction.lag.ms"], valueOr(out, "min.compaction.lag.ms"))
	maxLag, _ := parse(topicByName["max.compaction.lag.ms"], valueOr(out, "max.compaction.lag.ms"))
	if err := checkCompactionLags(minLag.i, maxLag.i, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ApplyIncrementalBroker applies IncrementalAlterConfigs operations to the
// dynamic broker configs of one level (perBroker: this broker's
// DYNAMIC_BROKER_CONFIG; otherwise the cluster-wide
// DYNAMIC_DEFAULT_BROKER_CONFIG) and returns the new set; current is not
// modified. The operations mean what they mean for topics (see
// ApplyIncremental); APPEND and SUBTRACT start from the level's current
// value, else the built-in default, as Kafka's prepareIncrementalConfigs
// does. Each value is checked with ValidateBrokerConfig; callers then build
// the result with Broker.WithDynamic, which checks the rules between
// configs.
func ApplyIncrementalBroker(current map[string]string, ops []AlterOp, perBroker bool) (map[string]string, error) {
	return applyOps(current, ops, brokerByName, "broker", func(name, value string) error {
		return ValidateBrokerConfig(name, value, perBroker)
	})
}

// ValidateBrokerConfig checks one dynamic broker config: the name must be a
// broker config that may change at runtime at the given level (a
// PerBroker config only for one broker, never as the cluster default), and
// the value valid for it. The error is an *Error naming the config.
func ValidateBrokerConfig(name, value string, perBroker bool) error {
	def := brokerByName[name]
	switch {
	case def == nil:
		return &Error{Name: name, Unknown: true, Reason: "unknown broker config"}
	case def.Mode == ReadOnly:
		return &Error{Name: name, nameOnly: true, Reason: "cannot be updated dynamically (read-only): change it in server.properties and restart"}
	case def.Mode == PerBroker && !perBroker:
		return &Error{Name: name, nameOnly: true, Reason: "cannot be updated at the cluster-default level: name a broker id"}
	}
	if _, reason := parse(def, value); reason != "" {
		return &Error{Name: name, Value: value, Reason: reason}
	}
	return nil
}

// applyOps is the part of IncrementalAlterConfigs that topic and broker
// resources share: it applies ops to a copy of current, validating each
// resulting value with validate. kind names the resource in messages.
func applyOps(current map[string]string, ops []AlterOp, byName map[string]*Def, kind string, validate func(name, value string) error) (map[string]string, error) {
	out := make(map[string]string, len(current)+len(ops))
	for k, v := range current {
		out[k] = v
	}
	seen := map[string]bool{}
	var errs []error
	for _, op := range ops {
		if seen[op.Name] {
			errs = append(errs, &Error{Name: op.Name, nameOnly: true, Reason: "named twice in one request", kind: ErrInvalidRequest})
			continue
		}
		seen[op.Name] = true
		if op.Op < OpSet || op.Op > OpSubtract {
			errs = append(errs, &Error{Name: op.Name, nameOnly: true,
				Reason: fmt.Sprintf("unknown operation %d", op.Op), kind: ErrInvalidRequest})
			continue
		}
		def := byName[op.Name]
		if def == nil && op.Op != OpDelete {
			errs = append(errs, &Error{Name: op.Name, Unknown: true, Reason: "unknown " + kind + " config"})
			continue
		}
		switch op.Op {
		case OpSet:
			if op.Value == nil {
				delete(out, op.Name)
				continue
			}
			if err := validate(op.Name, *op.Value); err != nil {
				errs = append(errs, err)
				continue
			}
			out[op.Name] = trim(*op.Value)
		case OpDelete:
			delete(out, op.Name)
		case OpAppend, OpSubtract:
			verb := map[int8]string{OpAppend: "APPEND", OpSubtract: "SUBTRACT"}[op.Op]
			if def.Type != TypeList {
				errs = append(errs, &Error{Name: op.Name, Value: deref(op.Value),
					Reason: fmt.Sprintf("cannot %s: the config is a %s, not a list", verb, def.Type)})
				continue
			}
			if op.Value == nil {
				errs = append(errs, &Error{Name: op.Name, nameOnly: true, Reason: verb + " needs a value"})
				continue
			}
			base, ok := out[op.Name]
			if !ok {
				base = def.Default
			}
			list := splitList(base)
			for _, e := range splitList(*op.Value) {
				has := slices.Contains(list, e)
				switch {
				case op.Op == OpAppend && !has:
					list = append(list, e)
				case op.Op == OpSubtract && has:
					list = slices.DeleteFunc(list, func(x string) bool { return x == e })
				}
			}
			v := strings.Join(list, ",")
			if err := validate(op.Name, v); err != nil {
				errs = append(errs, err)
				continue
			}
			out[op.Name] = v
		}
	}
	if err := joinErrors(errs); err != nil {
		return nil, err
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
