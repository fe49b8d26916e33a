#ifndef TDRV_LOAD_H
#define TDRV_LOAD_H

/*
 * Loading local image archives into the store: tdrv_store_load() in store.h. The archive
 * (docker-archive, oci-archive, ACI; any of gzip/zstd/bzip2/xz or none) is read once as a
 * stream: every regular file goes into the blob store under its computed digest, so no
 * entry name ever reaches the file system; an ACI's rootfs/ is rewritten on the fly into
 * one uncompressed layer. The image manifests are then built or checked from the blobs.
 */

/* The host's OCI architecture name ("amd64", "arm64", ...). */
const char *tdrv_host_arch(void);

#endif
