"""Three stages overlapped with threads and two bounded queues: a producer thread, the work in
the calling thread, a consumer thread. For video: decoding, the network, encoding. PyAV and
onnxruntime release the GIL inside FFmpeg and the session, so the three run at once; the
queues hold `depth` items each, so memory stays flat whatever the length."""

import queue
import threading
from collections.abc import Callable, Iterator

END = object()


def overlapped(items: Iterator, work: Callable, sink: Callable, depth: int = 4) -> None:
    """sink(work(item)) for each item, in order: `items` is iterated in one thread, `work` runs
    in this one, `sink` in another. The first error of the three is raised here, after both
    threads have stopped."""
    stop, errors = threading.Event(), []
    before, after = queue.Queue(depth), queue.Queue(depth)
    threads = [threading.Thread(target=_produce, args=(items, before, stop, errors)),
               threading.Thread(target=_consume, args=(sink, after, stop, errors))]
    for thread in threads:
        thread.start()
    try:
        for item in _drain(before, stop):
            if not _put(after, work(item), stop):
                break
        _put(after, END, stop)
        threads[1].join()  # the sink's last items
    finally:
        stop.set()  # on an error here: the threads leave their loops within 50 ms
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    """Put, waiting for room; False if the pipeline stopped meanwhile."""
    while not stop.is_set():
        try:
            q.put(item, timeout=0.05)
            return True
        except queue.Full:
            pass
    return False


def _drain(q: queue.Queue, stop: threading.Event) -> Iterator:
    """Items until END or a stop."""
    while not stop.is_set():
        try:
            item = q.get(timeout=0.05)
        except queue.Empty:
            continue
        if item is END:
            return
        yield item


def _produce(items: Iterator, q: queue.Queue, stop: threading.Event, errors: list) -> None:
    try:
        for item in items:
            if not _put(q, item, stop):
                return
        _put(q, END, stop)
    except BaseException as e:  # raised again in the calling thread
        errors.append(e)
        stop.set()


def _consume(sink: Callable, q: queue.Queue, stop: threading.Event, errors: list) -> None:
    try:
        for item in _drain(q, stop):
            sink(item)
    except BaseException as e:
        errors.append(e)
        stop.set()
