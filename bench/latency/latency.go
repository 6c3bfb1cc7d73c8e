// latency: the Go side of bench/latency/latency.cpp, the same program (see
// that file): 2,000,000 slots of 3-node lists, 20,000,000 random
// replacements, every batch of 1000 timed. Go's stops come from its
// gctrace lines (GODEBUG=gctrace=1), read by run.py.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

type node struct {
	next    *node
	a, b, c int64
}

func makeList(v int64) *node {
	return &node{next: &node{next: &node{a: v + 2}, a: v + 1}, a: v}
}

var rngState uint64 = 0x9e3779b97f4a7c15

func nextRandom() uint64 {
	rngState ^= rngState >> 12
	rngState ^= rngState << 25
	rngState ^= rngState >> 27
	return rngState * 0x2545f4914f6cdd1d
}

func arg(i int, fallback int64) int64 {
	if len(os.Args) <= i {
		return fallback
	}
	v, err := strconv.ParseInt(os.Args[i], 10, 64)
	if err != nil || v <= 0 {
		fmt.Fprintln(os.Stderr, "usage: lat_go [slots [replacements]] (positive integers)")
		os.Exit(2)
	}
	return v
}

func percentile(sorted []int64, p float64) float64 {
	i := int(p * float64(len(sorted)))
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1000.0
}

func main() {
	nslots := arg(1, 2000000)
	replacements := arg(2, 20000000)
	const batch = 1000
	slots := make([]*node, nslots)
	for i := int64(0); i < nslots; i++ {
		slots[i] = makeList(i)
	}
	// LAT_SPINNERS=n: n goroutines spin on arithmetic (latency.cpp step 4).
	var stopSpinners atomic.Bool
	nspin, _ := strconv.Atoi(os.Getenv("LAT_SPINNERS"))
	for s := 0; s < nspin; s++ {
		go func() {
			x := uint64(1)
			for !stopSpinners.Load() {
				x = x*6364136223846793005 + 1442695040888963407
			}
			_ = x
		}()
	}
	batches := make([]int64, 0, replacements/batch+1)
	start := time.Now()
	for done := int64(0); done < replacements; done += batch {
		t0 := time.Now()
		for k := 0; k < batch; k++ {
			i := nextRandom() % uint64(nslots)
			slots[i] = makeList(int64(i))
		}
		batches = append(batches, time.Since(t0).Nanoseconds())
	}
	total := time.Since(start).Seconds()
	stopSpinners.Store(true)
	bad := 0
	for i := int64(0); i < nslots; i++ {
		n := slots[i]
		if !(n != nil && n.a == i && n.next != nil && n.next.a == i+1 && n.next.next != nil && n.next.next.a == i+2 && n.next.next.next == nil) {
			bad++
		}
	}
	if bad != 0 {
		fmt.Fprintf(os.Stderr, "latency: %d slots corrupted\n", bad)
		os.Exit(1)
	}
	sort.Slice(batches, func(a, b int) bool { return batches[a] < batches[b] })
	over := func(ns int64) int { return len(batches) - sort.Search(len(batches), func(i int) bool { return batches[i] > ns }) }
	fmt.Printf("over1ms=%d over2ms=%d ", over(1000000), over(2000000))
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("total_s=%.3f median_us=%.1f p99_us=%.1f p999_us=%.1f worst_us=%.1f cycles=%d\n", total,
		percentile(batches, 0.5), percentile(batches, 0.99), percentile(batches, 0.999),
		float64(batches[len(batches)-1])/1000.0, ms.NumGC)
}
