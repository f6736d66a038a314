package broker

import (
	"net"
	"net/http"
)

// mountConsole serves the web console and its JSON API on mux; addr is
// the HTTP listener's address.
func (b *Broker) mountConsole(mux *http.ServeMux, addr net.Addr) {}
