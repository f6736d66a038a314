package metadata

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
)

// The metadata log's unit is an entry: a batch of records committed
// atomically (one Raft log entry). Its encoding is
//
//	[uint8 format = 1][uvarint count]
//	count × ([uint8 type][uint8 version][uvarint length][JSON payload])
//
// Each record names its type and the version of its payload, so a node
// that meets a record newer than it understands stops instead of
// misreading it (the metadata.version gate in miniature, as nomad's FSM
// does with its type byte). A type with the skippable bit set may be
// ignored by a node that does not know it; none is skippable yet.

const (
	entryFormat = 1
	// maxRecordsPerEntry bounds what a hostile or corrupt entry makes a
	// decoder allocate; the controller never batches more than this.
	maxRecordsPerEntry = 1 << 20
	skippable          = 0x80
)

type recordType uint8

const (
	typeRegisterBroker recordType = iota + 1
	typeCreateTopic
	typeDeleteTopic
	typeAddPartitions
	typeSetTopicConfig
	typeProducerIDs
	typeSetBrokerConfig
	typeBootstrap
	typeBrokerChange
	typePartitionChange
	typeFeatureLevel
	typeUserScramCredential
	typeRemoveUserScramCredential
)

// recordVersions is the newest payload version of each type this build
// reads. PartitionChange version 1 adds Adding and Removing;
// RegisterBroker version 1 adds HTTP, version 2 Listeners.
var recordVersions = map[recordType]uint8{
	typeRegisterBroker: 2, typeCreateTopic: 0, typeDeleteTopic: 0, typeAddPartitions: 0,
	typeSetTopicConfig: 0, typeProducerIDs: 0, typeSetBrokerConfig: 0, typeBootstrap: 0,
	typeBrokerChange: 0, typePartitionChange: 1, typeFeatureLevel: 0,
	typeUserScramCredential: 0, typeRemoveUserScramCredential: 0,
}

// version is the payload version r is encoded at: the oldest that holds
// what it carries, so a node of an older build reads every record it
// could understand, and stops (ErrUnknownRecord) only at one it could not.
func (r Record) version() uint8 {
	if c := r.PartitionChange; c != nil && (c.Adding != nil || c.Removing != nil) {
		return 1
	}
	if b := r.RegisterBroker; b != nil && len(b.Listeners) > 0 {
		return 2
	}
	if b := r.RegisterBroker; b != nil && b.HTTP != "" {
		return 1
	}
	return 0
}

// ErrUnknownRecord is wrapped by DecodeEntry for a record type or version
// this build does not know: the node must stop applying the log.
var ErrUnknownRecord = errors.New("metadata: record unknown to this version of samsa")

func (r Record) typed() (recordType, any) {
	switch {
	case r.RegisterBroker != nil:
		return typeRegisterBroker, r.RegisterBroker
	case r.CreateTopic != nil:
		return typeCreateTopic, r.CreateTopic
	case r.DeleteTopic != nil:
		return typeDeleteTopic, r.DeleteTopic
	case r.AddPartitions != nil:
		return typeAddPartitions, r.AddPartitions
	case r.SetTopicConfig != nil:
		return typeSetTopicConfig, r.SetTopicConfig
	case r.ProducerIDs != nil:
		return typeProducerIDs, r.ProducerIDs
	case r.SetBrokerConfig != nil:
		return typeSetBrokerConfig, r.SetBrokerConfig
	case r.Bootstrap != nil:
		return typeBootstrap, r.Bootstrap
	case r.BrokerChange != nil:
		return typeBrokerChange, r.BrokerChange
	case r.PartitionChange != nil:
		return typePartitionChange, r.PartitionChange
	case r.FeatureLevel != nil:
		return typeFeatureLevel, r.FeatureLevel
	case r.UserScramCredential != nil:
		return typeUserScramCredential, r.UserScramCredential
	case r.RemoveUserScramCredential != nil:
		return typeRemoveUserScramCredential, r.RemoveUserScramCredential
	}
	return 0, nil
}

// target returns a pointer to a fresh payload of type t set in r.
func (r *Record) target(t recordType) any {
	switch t {
	case typeRegisterBroker:
		r.RegisterBroker = new(RegisterBroker)
		return r.RegisterBroker
	case typeCreateTopic:
		r.CreateTopic = new(CreateTopic)
		return r.CreateTopic
	case typeDeleteTopic:
		r.DeleteTopic = new(DeleteTopic)
		return r.DeleteTopic
	case typeAddPartitions:
		r.AddPartitions = new(AddPartitions)
		return r.AddPartitions
	case typeSetTopicConfig:
		r.SetTopicConfig = new(SetTopicConfig)
		return r.SetTopicConfig
	case typeProducerIDs:
		r.ProducerIDs = new(ProducerIDs)
		return r.ProducerIDs
	case typeSetBrokerConfig:
		r.SetBrokerConfig = new(SetBrokerConfig)
		return r.SetBrokerConfig
	case typeBootstrap:
		r.Bootstrap = new(Bootstrap)
		return r.Bootstrap
	case typeBrokerChange:
		r.BrokerChange = new(BrokerChange)
		return r.BrokerChange
	case typePartitionChange:
		r.PartitionChange = new(PartitionChange)
		return r.PartitionChange
	case typeFeatureLevel:
		r.FeatureLevel = new(FeatureLevel)
		return r.FeatureLevel
	case typeUserScramCredential:
		r.UserScramCredential = new(UserScramCredential)
		return r.UserScramCredential
	case typeRemoveUserScramCredential:
		r.RemoveUserScramCredential = new(RemoveUserScramCredential)
		return r.RemoveUserScramCredential
	}
	return nil
}

// EncodeEntry encodes records as one metadata log entry.
func EncodeEntry(recs []Record) ([]byte, error) {
	if len(recs) == 0 || len(recs) > maxRecordsPerEntry {
		return nil, fmt.Errorf("metadata: entry of %d records", len(recs))
	}
	buf := []byte{entryFormat}
	buf = binary.AppendUvarint(buf, uint64(len(recs)))
	for i, r := range recs {
		t, payload := r.typed()
		if payload == nil {
			return nil, fmt.Errorf("metadata: record %d of the entry is empty", i)
		}
		js, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("metadata: encode record %d: %w", i, err)
		}
		buf = append(buf, byte(t), r.version())
		buf = binary.AppendUvarint(buf, uint64(len(js)))
		buf = append(buf, js...)
	}
	return buf, nil
}

// DecodeEntry decodes an entry. A record type or version this build does
// not know (and that is not skippable) fails with ErrUnknownRecord.
func DecodeEntry(b []byte) ([]Record, error) {
	if len(b) == 0 || b[0] != entryFormat {
		return nil, fmt.Errorf("%w: entry format %v", ErrUnknownRecord, firstByte(b))
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > maxRecordsPerEntry || n > uint64(len(b)) {
		return nil, errors.New("metadata: entry: bad record count")
	}
	b = b[k:]
	recs := make([]Record, 0, n)
	for i := uint64(0); i < n; i++ {
		if len(b) < 2 {
			return nil, fmt.Errorf("metadata: entry: record %d truncated", i)
		}
		t, v := recordType(b[0]), b[1]
		b = b[2:]
		size, k := binary.Uvarint(b)
		if k <= 0 || size > uint64(len(b)-k) {
			return nil, fmt.Errorf("metadata: entry: record %d: bad length", i)
		}
		payload := b[k : k+int(size)]
		b = b[k+int(size):]
		known, ok := recordVersions[t&^skippable]
		if !ok || v > known {
			if t&skippable != 0 {
				continue
			}
			return nil, fmt.Errorf("%w: type %d version %d", ErrUnknownRecord, t, v)
		}
		var r Record
		if err := strictUnmarshal(payload, r.target(t)); err != nil {
			return nil, fmt.Errorf("metadata: entry: record %d (type %d): %w", i, t, err)
		}
		if b := r.RegisterBroker; b != nil && len(b.Listeners) == 0 {
			b.Listeners = nil // as the encoder (omitempty) writes it
		}
		if c := r.PartitionChange; c != nil {
			// An empty list reads as absent, as the encoder (omitempty)
			// writes it, so a record decodes to what encoding it gives.
			c.ISR, c.Replicas, c.Adding, c.Removing = nilIfEmpty(c.ISR), nilIfEmpty(c.Replicas), nilIfEmpty(c.Adding), nilIfEmpty(c.Removing)
		}
		recs = append(recs, r)
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("metadata: entry: %d trailing bytes", len(b))
	}
	return recs, nil
}

func nilIfEmpty(s []int32) []int32 {
	if len(s) == 0 {
		return nil
	}
	return s
}

func firstByte(b []byte) any {
	if len(b) == 0 {
		return "none"
	}
	return b[0]
}

// strictUnmarshal refuses fields the payload type does not have: a field
// this build does not know is a newer record that must not be misread.
func strictUnmarshal(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// A snapshot is the whole image at an offset:
//
//	"SAMSAIMG" [uint8 format = 1] [JSON snapshotBody] [uint32 CRC32C of all before]

var snapshotMagic = []byte("SAMSAIMG")

const snapshotFormat = 1

type snapshotBody struct {
	ClusterID            string                      `json:"clusterId"`
	Offset               int64                       `json:"offset"`
	Brokers              []Broker                    `json:"brokers"`
	Topics               []*Topic                    `json:"topics"`
	NextProducerID       int64                       `json:"nextProducerId"`
	DefaultBrokerConfigs map[string]string           `json:"defaultBrokerConfigs"`
	BrokerConfigs        map[int32]map[string]string `json:"brokerConfigs"`
	Features             map[string]int16            `json:"features"`
	// ScramCredentials is left out when there are none, so a snapshot
	// without any reads on a build from before metadata.version 5.
	ScramCredentials []snapshotScram `json:"scramCredentials,omitempty"`
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// EncodeSnapshot encodes the image.
func (im *Image) EncodeSnapshot() ([]byte, error) {
	body := snapshotBody{
		ClusterID: im.ClusterID, Offset: im.Offset, NextProducerID: im.NextProducerID,
		DefaultBrokerConfigs: im.DefaultBrokerConfigs, BrokerConfigs: im.BrokerConfigs, Features: im.Features,
		ScramCredentials: im.snapshotScram(),
	}
	for _, id := range im.BrokerIDs() {
		body.Brokers = append(body.Brokers, im.Brokers[id])
	}
	for _, name := range im.TopicNames() {
		body.Topics = append(body.Topics, im.Topics[name])
	}
	js, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("metadata: encode snapshot: %w", err)
	}
	out := append(append(append([]byte(nil), snapshotMagic...), snapshotFormat), js...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli)), nil
}

// DecodeSnapshot rebuilds an image from EncodeSnapshot's bytes, checking
// that it is internally consistent (ids unique, partitions numbered in
// order) so a corrupt snapshot is refused rather than served.
func DecodeSnapshot(b []byte, controllerID int32) (*Image, error) {
	h := len(snapshotMagic) + 1
	if len(b) < h+4 || !bytes.Equal(b[:len(snapshotMagic)], snapshotMagic) {
		return nil, errors.New("metadata: snapshot: bad magic")
	}
	if b[len(snapshotMagic)] != snapshotFormat {
		return nil, fmt.Errorf("%w: snapshot format %d", ErrUnknownRecord, b[len(snapshotMagic)])
	}
	sum := binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(b[:len(b)-4], castagnoli) != sum {
		return nil, errors.New("metadata: snapshot: checksum mismatch")
	}
	var body snapshotBody
	if err := strictUnmarshal(b[h:len(b)-4], &body); err != nil {
		return nil, fmt.Errorf("metadata: snapshot: %w", err)
	}
	im := Empty(body.ClusterID, controllerID)
	im.Offset = body.Offset
	im.NextProducerID = body.NextProducerID
	if body.Offset < -1 || body.NextProducerID < 0 {
		return nil, errors.New("metadata: snapshot: negative offset or producer id")
	}
	for _, br := range body.Brokers {
		if _, dup := im.Brokers[br.NodeID]; dup || br.NodeID < 0 {
			return nil, fmt.Errorf("metadata: snapshot: broker %d invalid or twice", br.NodeID)
		}
		if len(br.Listeners) == 0 {
			br.Listeners = nil
		}
		im.Brokers[br.NodeID] = br
	}
	for _, t := range body.Topics {
		if t == nil || im.Topics[t.Name] != nil || im.ByID[t.ID] != nil {
			return nil, errors.New("metadata: snapshot: topic missing or twice")
		}
		for i, p := range t.Partitions {
			if p.Index != int32(i) {
				return nil, fmt.Errorf("metadata: snapshot: topic %q partition %d at position %d", t.Name, p.Index, i)
			}
			if err := validReassignment(p.Replicas, p.Adding, p.Removing); err != nil {
				return nil, fmt.Errorf("metadata: snapshot: topic %q partition %d: %w", t.Name, i, err)
			}
			t.Partitions[i].Adding, t.Partitions[i].Removing = nilIfEmpty(p.Adding), nilIfEmpty(p.Removing)
		}
		if t.Configs == nil {
			t.Configs = map[string]string{}
		}
		im.Topics[t.Name] = t
		im.ByID[t.ID] = t
	}
	if body.DefaultBrokerConfigs != nil {
		im.DefaultBrokerConfigs = body.DefaultBrokerConfigs
	}
	for id, c := range body.BrokerConfigs {
		if id < 0 {
			return nil, fmt.Errorf("metadata: snapshot: broker config for node %d", id)
		}
		im.BrokerConfigs[id] = c
	}
	if body.Features != nil {
		im.Features = body.Features
	}
	if err := im.restoreScram(body.ScramCredentials); err != nil {
		return nil, err
	}
	if v := im.Features[MetadataVersionFeature]; v > MaxMetadataVersion {
		return nil, fmt.Errorf("%w: metadata.version %d", ErrUnknownRecord, v)
	}
	return im, nil
}
