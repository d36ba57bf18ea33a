"""The review report: a view model rendered through templates."""
