build-san/san-thread/obj/mechanisms/brokers/redis.o: \
 mechanisms/brokers/redis.c \
 mechanisms/include/ipcplay/brokers/ipc_redis.h \
 mechanisms/include/ipcplay/brokers/../ipc.h \
 mechanisms/brokers/../ipc_internal.h mechanisms/include/ipcplay/ipc.h \
 mechanisms/brokers/../core/backend.h mechanisms/core/deadline.h \
 mechanisms/core/wait.h mechanisms/brokers/../core/deadline.h \
 mechanisms/brokers/../core/error.h mechanisms/brokers/../core/fd.h \
 mechanisms/brokers/../core/futex.h mechanisms/brokers/../core/names.h \
 mechanisms/brokers/../core/process.h \
 mechanisms/brokers/../core/segment.h mechanisms/brokers/../core/sync.h \
 mechanisms/brokers/../core/thread.h mechanisms/brokers/../core/wait.h \
 /usr/include/hiredis/hiredis.h /usr/include/hiredis/read.h \
 /usr/include/hiredis/sds.h /usr/include/hiredis/alloc.h
mechanisms/include/ipcplay/brokers/ipc_redis.h:
mechanisms/include/ipcplay/brokers/../ipc.h:
mechanisms/brokers/../ipc_internal.h:
mechanisms/include/ipcplay/ipc.h:
mechanisms/brokers/../core/backend.h:
mechanisms/core/deadline.h:
mechanisms/core/wait.h:
mechanisms/brokers/../core/deadline.h:
mechanisms/brokers/../core/error.h:
mechanisms/brokers/../core/fd.h:
mechanisms/brokers/../core/futex.h:
mechanisms/brokers/../core/names.h:
mechanisms/brokers/../core/process.h:
mechanisms/brokers/../core/segment.h:
mechanisms/brokers/../core/sync.h:
mechanisms/brokers/../core/thread.h:
mechanisms/brokers/../core/wait.h:
/usr/include/hiredis/hiredis.h:
/usr/include/hiredis/read.h:
/usr/include/hiredis/sds.h:
/usr/include/hiredis/alloc.h:
