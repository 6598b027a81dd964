// Host build of kernels/philox.cu's generator (no GPU needed): prints uniform and normal streams so
// tests can diff them against random/Philox.java. nvcc -std=c++17 -o /tmp/phc kernels/check/philox_host_check.cu
#include "../philox.cu"
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  unsigned long long seed = argc > 1 ? strtoull(argv[1], 0, 10) : 1234, offset = argc > 2 ? strtoull(argv[2], 0, 10) : 7;
  int n = argc > 3 ? atoi(argv[3]) : 4096;
  for (int i = 0; i < n; i++) {
    unsigned int w[4];
    philox_block(seed, offset + (unsigned long long)(i / 4), w);
    int j = i & 3;
    float u = philox_uniform(w[j]), z = philox_box_muller(w[j & 2], w[(j & 2) + 1], (j & 1) == 0);
    unsigned int ub, zb;
    memcpy(&ub, &u, 4);
    memcpy(&zb, &z, 4);
    printf("%08x %08x\n", ub, zb);
  }
  return 0;
}
