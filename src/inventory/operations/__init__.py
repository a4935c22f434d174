"""Operations: backups and restores, schema upgrades, schedules, moving a Pi install, the device."""
