"""App fixtures: collected messages and the widget-thread guard (autouse), from tests.support."""

from tests.support.pilot import messages, widget_thread_guard  # noqa: F401
