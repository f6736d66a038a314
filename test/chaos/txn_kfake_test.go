package chaos

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnWorkloadKfake runs the transactional workload (producers,
// read_committed consumers, ETL members that crash) against franz-go's
// in-memory fake cluster, with no broker faults, and checks the history:
// a harness that reports anomalies against a correct broker, or records
// no committed transaction, is broken before it blames samsa.
func TestTxnWorkloadKfake(t *testing.T) {
	t.Parallel()
	kc, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	seeds := kc.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	s := seed(t)
	w := newTxnWorkload(seeds, s)
	for topic, parts := range map[string]int32{w.data: w.dataParts, w.in: w.etlParts, w.out: w.etlParts} {
		if _, err := adm.CreateTopic(ctx, parts, 3, nil, topic); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.fillInput(ctx, 50, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for id := range txnProducers {
		w.startProducer(id)
	}
	for range txnConsumers {
		w.startConsumer(5 * time.Second)
	}
	w.startMembers(etlMembers)
	w.crashMembers()
	time.Sleep(8 * time.Second) // the run's length, not a synchronisation
	report, err := finishTxns(ctx, adm, seeds, w, func(string) error { return nil }, t.Logf)
	t.Logf("seed %d\n%s\n%s", s, w.crashSummary(), report.Summary(50))
	if err != nil {
		t.Fatal(err)
	}
	if report.Txns[Committed] == 0 {
		t.Fatalf("no transaction committed")
	}
	if len(report.Anomalies) > 0 {
		t.Errorf("%d anomalies", len(report.Anomalies))
	}
}
