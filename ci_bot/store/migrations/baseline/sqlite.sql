CREATE TABLE bot_identity (
	"key" VARCHAR(10) NOT NULL, 
	id VARCHAR(40) NOT NULL, 
	PRIMARY KEY ("key")
);

CREATE TABLE cursors (
	name VARCHAR(100) NOT NULL, 
	position INTEGER NOT NULL, 
	PRIMARY KEY (name)
);

CREATE TABLE deliveries (
	id VARCHAR(100) NOT NULL, 
	source VARCHAR(20) NOT NULL, 
	event VARCHAR(60) NOT NULL, 
	payload TEXT NOT NULL, 
	status VARCHAR(20) NOT NULL, 
	outcome TEXT NOT NULL, 
	received_at DATETIME NOT NULL, 
	handled_at DATETIME, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_deliveries_status ON deliveries (status);

CREATE TABLE pipelines (
	id INTEGER NOT NULL, 
	repo VARCHAR(200) NOT NULL, 
	event VARCHAR(40) NOT NULL, 
	branch VARCHAR(255) NOT NULL, 
	base_branch VARCHAR(255) NOT NULL, 
	tag VARCHAR(255) NOT NULL, 
	pr VARCHAR(20) NOT NULL, 
	sha VARCHAR(64) NOT NULL, 
	author VARCHAR(255) NOT NULL, 
	title TEXT NOT NULL, 
	entry VARCHAR(200) NOT NULL, 
	config_file VARCHAR(255) NOT NULL, 
	tree_json TEXT NOT NULL, 
	source_dir TEXT NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	cancel_requested BOOLEAN NOT NULL, 
	trusted BOOLEAN NOT NULL, 
	lease_owner VARCHAR(200), 
	lease_until DATETIME, 
	created_at DATETIME NOT NULL, 
	finished_at DATETIME, 
	archived_at DATETIME, 
	PRIMARY KEY (id)
);

CREATE INDEX ix_pipelines_repo ON pipelines (repo);

CREATE INDEX ix_pipelines_state ON pipelines (state);

CREATE TABLE ui_sessions (
	id_hash VARCHAR(64) NOT NULL, 
	user VARCHAR(255) NOT NULL, 
	kind VARCHAR(20) NOT NULL, 
	csrf_token VARCHAR(100) NOT NULL, 
	github_token TEXT NOT NULL, 
	created_at DATETIME NOT NULL, 
	expires_at DATETIME NOT NULL, 
	PRIMARY KEY (id_hash)
);

CREATE INDEX ix_ui_sessions_expires_at ON ui_sessions (expires_at);

CREATE TABLE ui_tokens (
	id INTEGER NOT NULL, 
	name VARCHAR(100) NOT NULL, 
	token_hash VARCHAR(64) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (name), 
	UNIQUE (token_hash)
);

CREATE TABLE executions (
	id INTEGER NOT NULL, 
	pipeline_id INTEGER NOT NULL, 
	path VARCHAR(1000) NOT NULL, 
	attempt INTEGER NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	exit_code INTEGER, 
	message TEXT NOT NULL, 
	log_path TEXT NOT NULL, 
	container_id VARCHAR(80), 
	reused_from INTEGER, 
	kill_requested BOOLEAN NOT NULL, 
	created_at DATETIME NOT NULL, 
	started_at DATETIME, 
	ended_at DATETIME, 
	PRIMARY KEY (id), 
	FOREIGN KEY(pipeline_id) REFERENCES pipelines (id)
);

CREATE INDEX ix_executions_pipeline_path ON executions (pipeline_id, path);

CREATE INDEX ix_executions_state ON executions (state);

CREATE TABLE nodes (
	id INTEGER NOT NULL, 
	pipeline_id INTEGER NOT NULL, 
	path VARCHAR(1000) NOT NULL, 
	type VARCHAR(10) NOT NULL, 
	state VARCHAR(20), 
	skip BOOLEAN NOT NULL, 
	skip_reason TEXT NOT NULL, 
	message TEXT NOT NULL, 
	failures INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (pipeline_id, path), 
	FOREIGN KEY(pipeline_id) REFERENCES pipelines (id)
);

CREATE INDEX ix_nodes_pipeline_id ON nodes (pipeline_id);

CREATE TABLE pipeline_meta (
	id INTEGER NOT NULL, 
	pipeline_id INTEGER NOT NULL, 
	"key" VARCHAR(200) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (pipeline_id, "key"), 
	FOREIGN KEY(pipeline_id) REFERENCES pipelines (id)
);

CREATE INDEX ix_pipeline_meta_pipeline_id ON pipeline_meta (pipeline_id);

CREATE TABLE run_events (
	id INTEGER NOT NULL, 
	pipeline_id INTEGER NOT NULL, 
	path VARCHAR(1000) NOT NULL, 
	kind VARCHAR(40) NOT NULL, 
	state VARCHAR(20) NOT NULL, 
	message TEXT NOT NULL, 
	actor VARCHAR(255) NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	FOREIGN KEY(pipeline_id) REFERENCES pipelines (id)
);

CREATE INDEX ix_run_events_pipeline_id ON run_events (pipeline_id);

CREATE TABLE reuse_results (
	id INTEGER NOT NULL, 
	repo VARCHAR(200) NOT NULL, 
	"key" VARCHAR(64) NOT NULL, 
	execution_id INTEGER NOT NULL, 
	created_at DATETIME NOT NULL, 
	PRIMARY KEY (id), 
	UNIQUE (execution_id), 
	FOREIGN KEY(execution_id) REFERENCES executions (id)
);

CREATE INDEX ix_reuse_results_repo_key ON reuse_results (repo, "key");
