// Misuse: alignment above a page. Expected: "alignment above 8192 bytes".
#include <gort/gort.hpp>
struct alignas(16384) huge_align { char c; };
int main() { gc::gc_new<huge_align>(); }
