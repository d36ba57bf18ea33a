"""Watch criteria read from CloudWatch: alarms in the target, and shared metric reads."""
