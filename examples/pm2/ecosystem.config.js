// PM2 ecosystem of the example service (examples/pm2/deploy.sh reloads it
// with `pm2 startOrReload ecosystem.config.js --update-env`).
// Zero downtime: cluster mode reloads one instance at a time, and PM2 waits
// for each new instance's `process.send('ready')` (wait_ready) before
// stopping an old one.
const path = require('path');
const appDir = process.env.APP_DIR || __dirname;

module.exports = {
  apps: [
    {
      name: process.env.SERVICE || 'shop-api',
      script: process.env.APP_SCRIPT || path.join(__dirname, 'app/server.js'),
      cwd: appDir,
      exec_mode: 'cluster',
      instances: Number(process.env.INSTANCES || 2),
      wait_ready: true,
      listen_timeout: 10000,
      kill_timeout: 5000,
      max_memory_restart: '512M',
      env: {
        NODE_ENV: 'production',
        PORT: process.env.PORT || 3000,
        // The build output deploy.sh backs up and restores.
        SITE_DIR: path.join(appDir, process.env.BUILD_OUTPUT || '.next'),
      },
    },
  ],
};
