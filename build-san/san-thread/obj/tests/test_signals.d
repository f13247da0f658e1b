build-san/san-thread/obj/tests/test_signals.o: tests/test_signals.c \
 tests/testlib.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/include/ipcplay/signals/signals.h \
 mechanisms/include/ipcplay/signals/../ipc.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/include/ipcplay/signals/signals.h:
mechanisms/include/ipcplay/signals/../ipc.h:
