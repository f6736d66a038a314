package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Which node opened a connection? Every samsa node dials its peers from
// 127.0.0.1 with an ephemeral port, so the proxy sees only a port. Linux
// says who owns it: /proc/net/tcp{,6} map the connection's (local port,
// remote port) to a socket inode, and /proc/<pid>/fd of the process that
// holds it links to socket:[inode]. The nodes are children of the test
// process, and each names itself on its command line (--node-id N). This
// needs no change to the product and no privileges beyond reading /proc of
// our own children.

// owners resolves connection sources to node ids. It is used by one
// proxy network under that network's lock.
type owners struct {
	self  int
	nodes map[int]int // pid -> node id, 0 for a child that is not a node
}

func newOwners() *owners { return &owners{self: os.Getpid(), nodes: map[int]int{}} }

// nodeOf returns the id of the node that owns the local end of the TCP
// connection from 127.0.0.1:srcPort to 127.0.0.1:dstPort: 0 when a
// process other than a node (the test's own clients) owns it, and false
// when the socket is gone (its owner closed it before we looked).
func (o *owners) nodeOf(srcPort, dstPort int) (int, bool) {
	inode, ok := socketInode(srcPort, dstPort)
	if !ok {
		return 0, false
	}
	link := fmt.Sprintf("socket:[%d]", inode)
	for pid, node := range o.nodes {
		if node > 0 && holds(pid, link) {
			return node, true
		}
	}
	// The test's own clients are the usual other callers: look at our own
	// fds before scanning /proc for children.
	if holds(o.self, link) {
		return 0, true
	}
	// A node restarted since we last looked: refresh the children.
	for _, pid := range children(o.self) {
		node, known := o.nodes[pid]
		if !known {
			node = nodeID(pid)
			o.nodes[pid] = node
		}
		if node > 0 && holds(pid, link) {
			return node, true
		}
	}
	return 0, true
}

// forget drops pids that have exited, so the map does not grow with every
// restart.
func (o *owners) forget() {
	for pid := range o.nodes {
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); err != nil {
			delete(o.nodes, pid)
		}
	}
}

// socketInode finds the inode of the socket whose local port is srcPort
// and remote port dstPort in /proc/net/tcp and tcp6 (a Go dialer may use
// either family for 127.0.0.1).
func socketInode(srcPort, dstPort int) (uint64, bool) {
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Scan() // the header
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 10 {
				continue
			}
			if hexPort(fields[1]) != srcPort || hexPort(fields[2]) != dstPort {
				continue
			}
			inode, err := strconv.ParseUint(fields[9], 10, 64)
			if err != nil || inode == 0 {
				continue
			}
			return inode, true
		}
	}
	return 0, false
}

// hexPort is the port of a /proc/net/tcp address "0100007F:1F90".
func hexPort(addr string) int {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return -1
	}
	p, err := strconv.ParseUint(addr[i+1:], 16, 16)
	if err != nil {
		return -1
	}
	return int(p)
}

// holds reports whether process pid has an fd linking to link.
func holds(pid int, link string) bool {
	dir := filepath.Join("/proc", strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(dir, e.Name())); err == nil && l == link {
			return true
		}
	}
	return false
}

// children lists the pids whose parent is ppid, from /proc/<pid>/stat.
func children(ppid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ...": comm may hold spaces and parens,
		// so parse after the last ')'.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 2 && f[1] == strconv.Itoa(ppid) {
			out = append(out, pid)
		}
	}
	return out
}

// nodeID reads --node-id N from a process's command line; 0 if absent.
func nodeID(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return 0
	}
	args := strings.Split(string(b), "\x00")
	for i, a := range args {
		if a == "--node-id" && i+1 < len(args) {
			if id, err := strconv.Atoi(args[i+1]); err == nil && id > 0 {
				return id
			}
		}
	}
	return 0
}
