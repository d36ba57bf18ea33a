"""The app fixtures apply here too, the widget-thread guard included."""

from tests.app.conftest import messages, widget_thread_guard

__all__ = ["messages", "widget_thread_guard"]
