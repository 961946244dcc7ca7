from asset_pipeline.cli import main

raise SystemExit(main())
