// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints the layout of include/kvmring/kvmring_ioctl.h for the unit test that
 * checks ringctl's encoding of the module's ioctls (src/host/kvmring.ts):
 *
 *   struct <name> <size>
 *   member <struct> <member> <offset> <size>
 *   const <name> <value>
 */
#include <stddef.h>
#include <stdio.h>

#include "kvmring/kvmring_ioctl.h"

#define S(t) printf("struct %s %zu\n", #t, sizeof(struct t))
#define M(t, f) printf("member %s %s %zu %zu\n", #t, #f, offsetof(struct t, f), sizeof(((struct t *)0)->f))
#define C(name) printf("const %s %llu\n", #name, (unsigned long long)(name))

int main(void)
{
	S(kvmring_ioc_create);
	M(kvmring_ioc_create, name);
	M(kvmring_ioc_create, size);
	M(kvmring_ioc_create, node);
	M(kvmring_ioc_create, kind);
	M(kvmring_ioc_create, instance);
	M(kvmring_ioc_create, owner);
	M(kvmring_ioc_create, readers);
	M(kvmring_ioc_create, ring_size);
	M(kvmring_ioc_create, queues);
	M(kvmring_ioc_create, rsvd);

	S(kvmring_ioc_roster);
	M(kvmring_ioc_roster, name);
	M(kvmring_ioc_roster, roster);

	S(kvmring_ioc_destroy);
	M(kvmring_ioc_destroy, name);

	C(KVMRING_NAME_MAX);
	C(KVMRING_KIND_ROSTER);
	C(KVMRING_KIND_OWNED);
	C(KVMRING_IOC_CREATE);
	C(KVMRING_IOC_ROSTER);
	C(KVMRING_IOC_DESTROY);
	return 0;
}
