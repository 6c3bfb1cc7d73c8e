// Misuse: a bounded array type. Expected: "use gc::gc_new<T[]>(N)".
#include <gort/gort.hpp>
int main() { gc::gc_new<int[4]>(); }
