build-san/san-address/obj/tests/test_events.o: tests/test_events.c \
 tests/testlib.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/include/ipcplay/events/event.h \
 mechanisms/include/ipcplay/events/../ipc.h \
 mechanisms/include/ipcplay/events/poll.h
tests/testlib.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/include/ipcplay/events/event.h:
mechanisms/include/ipcplay/events/../ipc.h:
mechanisms/include/ipcplay/events/poll.h:
