// Misuse: an array of arrays. Expected: "element type must not be an array".
#include <gort/gort.hpp>
int main() { gc::gc_new<int[][4]>(3); }
