// Misuse: an abstract class. Expected: "T is abstract".
#include <gort/gort.hpp>
struct shape { virtual double area() const = 0; virtual ~shape() = default; };
int main() { gc::gc_new<shape>(); }
