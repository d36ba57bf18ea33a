"""The deployed UserMigration trigger and its packager."""
