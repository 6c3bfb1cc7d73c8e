// binary-trees in Go: the same program as binarytrees.cpp (see its header
// for the algorithm), for comparison with gort. One goroutine; GOMAXPROCS
// and GOGC are left at their defaults, so the Go collector runs as a Go
// program would run it.
//
//	bt_go [depth]     depth defaults to 21
//
// Built by bench/binarytrees/CMakeLists.txt with `go build` (no modules, no
// dependencies).
package main

import (
	"fmt"
	"os"
	"strconv"
)

type node struct {
	left, right *node
}

// buildTree returns a tree of the given depth: children first, left then right.
func buildTree(depth int) *node {
	if depth <= 0 {
		return &node{}
	}
	l := buildTree(depth - 1)
	r := buildTree(depth - 1)
	return &node{left: l, right: r}
}

// checkTree returns the number of nodes in the tree.
func checkTree(n *node) int64 {
	if n.left == nil {
		return 1
	}
	return 1 + checkTree(n.left) + checkTree(n.right)
}

func main() {
	const minDepth = 4
	depth := 21
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v < 0 || v > 40 {
			fmt.Fprintf(os.Stderr, "usage: %s [depth 0..40]\n", os.Args[0])
			os.Exit(2)
		}
		depth = v
	}
	maxDepth := depth
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}

	{
		stretch := buildTree(maxDepth + 1)
		fmt.Printf("stretch tree of depth %d\t check: %d\n", maxDepth+1, checkTree(stretch))
	}

	longLived := buildTree(maxDepth)

	for d := minDepth; d <= maxDepth; d += 2 {
		iterations := int64(1) << uint(maxDepth-d+minDepth)
		var check int64
		for i := int64(0); i < iterations; i++ {
			t := buildTree(d)
			check += checkTree(t)
		}
		fmt.Printf("%d\t trees of depth %d\t check: %d\n", iterations, d, check)
	}

	fmt.Printf("long lived tree of depth %d\t check: %d\n", maxDepth, checkTree(longLived))
}
