package controller

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/samsa-kafka/samsa/internal/metadata"
)

// store is the single-node controller's durable record log: one file of
// frames [uint32 length][uint32 CRC32C of payload][JSON metadata.Record].
// Every commit is fsynced before the image that includes it is published,
// so a topic a client saw created is never forgotten by a restart. A torn
// frame at the tail (a crash mid-write) is cut off on open; it was never
// acknowledged. With the Raft quorum this file is replaced by the Raft log.
type store struct {
	f    *os.File
	size int64
}

const frameHeader = 8

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// openStore opens the log at path and replays it through apply.
func openStore(path string, apply func(metadata.Record) error) (*store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("controller: %w", err)
	}
	good, err := replay(f, apply)
	if err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	if st.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("controller: truncate torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("controller: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("controller: %w", err)
	}
	return &store{f: f, size: good}, nil
}

// replay applies every whole, valid frame and returns the size they cover.
func replay(f *os.File, apply func(metadata.Record) error) (int64, error) {
	r := bufio.NewReader(io.NewSectionReader(f, 0, 1<<62))
	var off int64
	var hdr [frameHeader]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, nil // EOF or a torn header
		}
		n := binary.BigEndian.Uint32(hdr[0:])
		if n > 64<<20 {
			return off, nil
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(r, payload); err != nil {
			return off, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.BigEndian.Uint32(hdr[4:]) {
			return off, nil
		}
		var rec metadata.Record
		if err := json.Unmarshal(payload, &rec); err != nil {
			return off, fmt.Errorf("controller: record at byte %d: %w", off, err)
		}
		if err := apply(rec); err != nil {
			return off, err
		}
		off += frameHeader + int64(n)
	}
}

// append writes records and fsyncs them. On error the file is cut back so
// a later append does not follow a partial frame.
func (s *store) append(recs []metadata.Record) error {
	var buf []byte
	for _, rec := range recs {
		payload, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("controller: encode record: %w", err)
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(payload)))
		buf = binary.BigEndian.AppendUint32(buf, crc32.Checksum(payload, crcTable))
		buf = append(buf, payload...)
	}
	_, err := s.f.Write(buf)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		err = errors.Join(err, s.f.Truncate(s.size))
		_, serr := s.f.Seek(s.size, io.SeekStart)
		return fmt.Errorf("controller: append: %w", errors.Join(err, serr))
	}
	s.size += int64(len(buf))
	return nil
}

func (s *store) close() error { return s.f.Close() }
