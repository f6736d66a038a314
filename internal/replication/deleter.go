package replication

import (
	"log/slog"
	"sync"

	"github.com/samsa-kafka/samsa/internal/log"
)

// deleter removes the directories of deleted replicas in the background,
// in the order they were queued, so that deleting a topic with large logs
// costs Apply a rename per partition, not the removal of every file. The
// Manager owns it: its goroutine starts with the first directory queued and
// stops in close.
type deleter struct {
	fs  log.FS
	log *slog.Logger

	mu      sync.Mutex
	queue   []string
	running bool
	stopped bool
	wake    chan struct{} // a directory was queued
	stop    chan struct{} // closed by close
	done    chan struct{} // closed when the goroutine ends
}

func newDeleter(fsys log.FS, logger *slog.Logger) *deleter {
	return &deleter{fs: fsys, log: logger, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// add queues dirs for removal. After close it does nothing: the next start
// removes them (removeStrayDirs).
func (d *deleter) add(dirs ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.queue = append(d.queue, dirs...)
	if !d.running {
		d.running = true
		go d.run()
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *deleter) run() {
	defer close(d.done)
	for {
		d.mu.Lock()
		if len(d.queue) == 0 {
			d.mu.Unlock()
			select {
			case <-d.wake:
				continue
			case <-d.stop:
				return
			}
		}
		dir := d.queue[0]
		d.queue = d.queue[1:]
		d.mu.Unlock()
		select {
		case <-d.stop:
			return
		default:
		}
		if err := log.RemoveDir(d.fs, dir); err != nil {
			// What is left is removed at the next start.
			d.log.Error("cannot remove a deleted partition's directory", "dir", dir, "err", err)
			continue
		}
		d.log.Info("removed deleted partition", "dir", dir)
	}
}

// close stops the goroutine, waiting for the directory it is removing.
func (d *deleter) close() {
	d.mu.Lock()
	if d.stopped {
		d.mu.Unlock()
		return
	}
	d.stopped = true
	running := d.running
	close(d.stop)
	d.mu.Unlock()
	if running {
		<-d.done
	}
}
