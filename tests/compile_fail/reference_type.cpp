// Misuse: a reference type. Expected: "T must be an object type".
#include <gort/gort.hpp>
int main() { gc::gc_new<int&>(); }
