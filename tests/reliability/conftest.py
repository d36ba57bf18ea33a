"""The app fixtures apply here too, the widget-thread guard included."""

from tests.support.pilot import messages, widget_thread_guard  # noqa: F401
