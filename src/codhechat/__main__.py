from codhechat.cli import main

raise SystemExit(main())
