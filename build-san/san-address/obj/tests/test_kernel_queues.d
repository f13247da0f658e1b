build-san/san-address/obj/tests/test_kernel_queues.o: \
 tests/test_kernel_queues.c tests/testlib.h \
 mechanisms/include/ipcplay/ipc.h \
 mechanisms/include/ipcplay/events/eventfd.h \
 mechanisms/include/ipcplay/events/../ipc.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/include/ipcplay/events/eventfd.h:
mechanisms/include/ipcplay/events/../ipc.h:
