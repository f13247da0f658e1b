build-san/san-thread/obj/mechanisms/brokers/amqp.o: \
 mechanisms/brokers/amqp.c mechanisms/include/ipcplay/brokers/ipc_amqp.h \
 mechanisms/include/ipcplay/brokers/../ipc.h mechanisms/ipc_internal.h \
 mechanisms/include/ipcplay/ipc.h mechanisms/core/backend.h \
 mechanisms/core/deadline.h mechanisms/core/wait.h \
 mechanisms/core/deadline.h mechanisms/core/error.h mechanisms/core/fd.h \
 mechanisms/core/futex.h mechanisms/core/names.h \
 mechanisms/core/process.h mechanisms/core/segment.h \
 mechanisms/core/sync.h mechanisms/core/thread.h mechanisms/core/wait.h
mechanisms/include/ipcplay/brokers/ipc_amqp.h:
mechanisms/include/ipcplay/brokers/../ipc.h:
mechanisms/ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/core/deadline.h:
mechanisms/core/error.h:
mechanisms/core/fd.h:
mechanisms/core/futex.h:
mechanisms/core/names.h:
mechanisms/core/process.h:
mechanisms/core/segment.h:
mechanisms/core/sync.h:
mechanisms/core/thread.h:
mechanisms/core/wait.h:
