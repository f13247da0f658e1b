build-san/san-thread/obj/tests/test_conformance.o: \
 tests/test_conformance.c tests/testlib.h \
 mechanisms/include/ipcplay/ipc.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
