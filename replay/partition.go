package replay

import (
	"cmp"
	"slices"
)

// Orders are independent when no bucket, renewal record or ARI
// certificate can connect them. Every piece of state a Replayer keeps is
// keyed by something inside one connected component of the graph whose
// nodes are registered domains (and accounts) and whose edges are orders:
//
//   - CertificatesPerDomain buckets: a registered domain;
//   - exact sets (bucket and renewal lookups): all names of a set fall
//     under its registered domains, so two orders with the same set share
//     a domain;
//   - ARI certificates: found by name, and a shared name is a shared domain;
//   - NewOrdersPerAccount and per-account buckets: the account, which is
//     therefore a node too.
//
// So replaying each component alone, in time order, gives every order the
// same decision as one serial replay. Components and Assign are the one
// implementation of this split: orderio.CertTable.Partition builds the
// parts a parallel replay (ctlimits replay --data) decides on one
// Replayer each; TestAssignedPartsReplayLikeOneReplayer here and orderio's
// TestPartitionReplaysLikeOneReplayer check it.

// Components assigns orders to connected components with a union-find over
// domain and account keys.
type Components struct {
	ids    map[string]int32
	parent []int32
	size   []int32
	first  []int32 // per order: one of its keys; resolved by Of
}

func (c *Components) key(k string) int32 {
	if c.ids == nil {
		c.ids = make(map[string]int32)
	}
	if id, ok := c.ids[k]; ok {
		return id
	}
	id := int32(len(c.parent))
	c.ids[k] = id
	c.parent = append(c.parent, id)
	c.size = append(c.size, 1)
	return id
}

func (c *Components) find(x int32) int32 {
	for c.parent[x] != x {
		c.parent[x] = c.parent[c.parent[x]] // path halving
		x = c.parent[x]
	}
	return x
}

func (c *Components) union(a, b int32) {
	a, b = c.find(a), c.find(b)
	if a == b {
		return
	}
	if c.size[a] < c.size[b] {
		a, b = b, a
	}
	c.parent[b] = a
	c.size[a] += c.size[b]
}

// Add records an order (the n-th added, from 0) and joins its domains and
// account.
func (c *Components) Add(p *Prepared) {
	first := c.key(p.Domains[0])
	for _, d := range p.Domains[1:] {
		c.union(first, c.key(d))
	}
	if p.Account != "" {
		// "\x00" cannot appear in a domain: accounts get their own keys.
		c.union(first, c.key("\x00"+p.Account))
	}
	c.first = append(c.first, first)
}

// Of returns the component of the i-th order added: a small integer,
// equal for orders that must be replayed together.
func (c *Components) Of(i int) int32 { return c.find(c.first[i]) }

// Assignment spreads the components of some orders over workers.
type Assignment struct {
	Worker     []int32 // per order, in the order added: its worker, from 0
	Workers    int     // workers used: at most the number of components
	Components int     // connected components
	Largest    int     // orders in the largest component
}

// Assign spreads the components of the orders added so far over at most
// workers, biggest first onto the least loaded.
func (c *Components) Assign(workers int) Assignment {
	sizes := c.sizes()
	type comp struct {
		id int32
		n  int32
	}
	var list []comp
	for id, n := range sizes {
		if n > 0 {
			list = append(list, comp{int32(id), n})
		}
	}
	slices.SortFunc(list, func(a, b comp) int { return cmp.Or(cmp.Compare(b.n, a.n), cmp.Compare(a.id, b.id)) })
	a := Assignment{Workers: max(1, min(workers, len(list))), Components: len(list)}
	if len(list) > 0 {
		a.Largest = int(list[0].n)
	}
	load := make([]int, a.Workers)
	owner := sizes // reused: a component's worker, by its root
	for _, c := range list {
		w := 0
		for i := range load {
			if load[i] < load[w] {
				w = i
			}
		}
		owner[c.id] = int32(w)
		load[w] += int(c.n)
	}
	a.Worker = make([]int32, len(c.first))
	for i := range a.Worker {
		a.Worker[i] = owner[c.Of(i)]
	}
	return a
}

// sizes counts the orders of each component, indexed by its root key.
func (c *Components) sizes() []int32 {
	sizes := make([]int32, len(c.parent))
	for i := range c.first {
		sizes[c.Of(i)]++
	}
	return sizes
}

// OfDomain returns the component of a registered domain (or "\x00"+account)
// seen by Add, and whether it was seen.
func (c *Components) OfDomain(d string) (int32, bool) {
	id, ok := c.ids[d]
	if !ok {
		return 0, false
	}
	return c.find(id), true
}
