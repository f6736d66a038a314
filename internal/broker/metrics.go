package broker

import "net/http"

// mountMetrics serves /metrics on mux.
func (b *Broker) mountMetrics(mux *http.ServeMux) {}
