/* Read one array of a refconv vectors case: unzip the .npz, then read_npy x.npy.
 * The arrays are little-endian float64 in C order ('<f8', fortran_order False).
 * Build: cc -O2 -o read_npy read_npy.c; run: ./read_npy y.npy  (prints shape, count and sum). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Returns the data (malloc'd) and fills shape/ndim; NULL if the file is not a '<f8' C-order .npy. */
static double *read_npy(const char *path, size_t shape[8], int *ndim) {
    FILE *f = fopen(path, "rb");
    unsigned char magic[8];
    if (!f || fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6) != 0) return NULL;
    uint32_t header_len = 0;
    if (magic[6] == 1) {                /* format 1.0: 2-byte little-endian header length */
        unsigned char n[2];
        if (fread(n, 1, 2, f) != 2) return NULL;
        header_len = n[0] | (uint32_t)n[1] << 8;
    } else {                            /* formats 2.0 and 3.0: 4 bytes */
        unsigned char n[4];
        if (fread(n, 1, 4, f) != 4) return NULL;
        header_len = n[0] | (uint32_t)n[1] << 8 | (uint32_t)n[2] << 16 | (uint32_t)n[3] << 24;
    }
    char *header = calloc(header_len + 1, 1);
    if (fread(header, 1, header_len, f) != header_len) return NULL;
    /* e.g. {'descr': '<f8', 'fortran_order': False, 'shape': (2, 4, 5, 5), } */
    if (!strstr(header, "'descr': '<f8'") || !strstr(header, "'fortran_order': False")) return NULL;
    char *s = strstr(header, "'shape': (") + strlen("'shape': (");
    size_t count = 1;
    for (*ndim = 0; *s != ')'; ++*ndim) {
        shape[*ndim] = strtoul(s, &s, 10);
        count *= shape[*ndim];
        while (*s == ',' || *s == ' ') s++;
    }
    double *data = malloc(count ? count * sizeof(double) : 1);
    if (fread(data, sizeof(double), count, f) != count) return NULL;
    free(header);
    fclose(f);
    return data;
}

int main(int argc, char **argv) {
    size_t shape[8], count = 1;
    int ndim;
    double *data = argc > 1 ? read_npy(argv[1], shape, &ndim) : NULL;
    if (!data) { fprintf(stderr, "usage: read_npy FILE.npy (a '<f8' C-order array)\n"); return 2; }
    double sum = 0;
    printf("shape (");
    for (int i = 0; i < ndim; i++) { printf(i ? ", %zu" : "%zu", shape[i]); count *= shape[i]; }
    for (size_t i = 0; i < count; i++) sum += data[i];
    printf(")\ncount %zu\nsum %.17g\n", count, sum);
    free(data);
    return 0;
}
