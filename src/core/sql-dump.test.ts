import { describe, expect, it } from '@jest/globals';
import { describeFilter, DumpHead, filterDumpLine } from './sql-dump.js';

const head = (...lines: string[]) => {
  const h = new DumpHead();
  for (const l of lines) h.line(l);
  return h.end();
};

describe('filterDumpLine', () => {
  it('drops the replication settings of a MySQL dump made with GTIDs (they need SUPER), a GTID set over several lines too', () => {
    expect(filterDumpLine('SET @MYSQLDUMP_TEMP_LOG_BIN = @@SESSION.SQL_LOG_BIN;')).toEqual({ action: 'keep' });
    expect(filterDumpLine('SET @@SESSION.SQL_LOG_BIN= 0;')).toEqual({ action: 'drop', kind: 'server-variable' });
    expect(filterDumpLine("SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5';")).toEqual({ action: 'drop', kind: 'server-variable' });
    expect(filterDumpLine("SET @@GLOBAL.GTID_PURGED=/*!80000 '+'*/ '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,")).toEqual({ action: 'drop', kind: 'server-variable', continues: true });
    expect(filterDumpLine('SET @@SESSION.SQL_LOG_BIN = @MYSQLDUMP_TEMP_LOG_BIN;')).toEqual({ action: 'drop', kind: 'server-variable' });
    expect(filterDumpLine("SET GLOBAL gtid_slave_pos='0-1-42';")).toEqual({ action: 'drop', kind: 'server-variable' });
    expect(filterDumpLine('SET NAMES utf8mb4;')).toEqual({ action: 'keep' });
    expect(filterDumpLine("INSERT INTO `t` VALUES ('SET @@SESSION.SQL_LOG_BIN= 0;');")).toEqual({ action: 'keep' });
  });

  it('drops the lines that name a database: CREATE, DROP, USE', () => {
    expect(filterDumpLine('CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop` /*!40100 DEFAULT CHARACTER SET utf8mb4 */;')).toEqual({ action: 'drop', kind: 'create-database' });
    expect(filterDumpLine('/*!40000 DROP DATABASE IF EXISTS `shop`*/;')).toEqual({ action: 'drop', kind: 'drop-database' });
    expect(filterDumpLine('USE `shop`;')).toEqual({ action: 'drop', kind: 'use' });
    expect(filterDumpLine('CREATE TABLE `users` (')).toEqual({ action: 'keep' });
    expect(filterDumpLine('INSERT INTO `t` VALUES (\'USE `x`;\');')).toEqual({ action: 'keep' });
  });

  it('removes DEFINER clauses from views, triggers, routines and events, and only from DDL lines', () => {
    expect(filterDumpLine('/*!50013 DEFINER=`root`@`localhost` SQL SECURITY DEFINER */')).toEqual({ action: 'rewrite', line: '/*!50013 SQL SECURITY DEFINER */' });
    expect(filterDumpLine('/*!50003 CREATE*/ /*!50017 DEFINER=`m_shop`@`10.0.0.%`*/ /*!50003 TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1 */;;')).toEqual({
      action: 'rewrite',
      line: '/*!50003 CREATE*/ /*!50017 */ /*!50003 TRIGGER t BEFORE INSERT ON x FOR EACH ROW SET NEW.a = 1 */;;',
    });
    expect(filterDumpLine("CREATE DEFINER='admin'@'%' PROCEDURE `p`()")).toEqual({ action: 'rewrite', line: 'CREATE PROCEDURE `p`()' });
    expect(filterDumpLine('CREATE DEFINER=CURRENT_USER FUNCTION f() RETURNS INT RETURN 1;')).toEqual({ action: 'rewrite', line: 'CREATE FUNCTION f() RETURNS INT RETURN 1;' });
    expect(filterDumpLine("INSERT INTO `posts` VALUES (1,'DEFINER=`root`@`localhost`');")).toEqual({ action: 'keep' });
  });
});

describe('DumpHead', () => {
  it('accepts what dumps begin with, after comments', () => {
    expect(head('/*M!999999\\- enable the sandbox mode */ ', '-- MariaDB dump 10.19')).toEqual({ ok: true });
    expect(head('-- MySQL dump 10.13', '--', '', '/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;')).toEqual({ ok: true });
    expect(head('/* a comment', 'on two lines */ CREATE TABLE t (a INT);')).toEqual({ ok: true });
    expect(head('# phpMyAdmin SQL Dump', 'SET SQL_MODE = "NO_AUTO_VALUE_ON_ZERO";')).toEqual({ ok: true });
  });

  it('refuses anything else, showing its first bytes', () => {
    expect(head('\x89PNG\r', '\x1a')).toEqual({ ok: false, problem: 'it does not begin like an SQL dump: "\\x89PNG\\x0d"' });
    expect(head('hello world')).toEqual({ ok: false, problem: 'it does not begin like an SQL dump: "hello world"' });
    expect(head('-- only a comment', '')).toEqual({ ok: false, problem: 'it holds no SQL statement' });
  });
});

describe('describeFilter', () => {
  it('says what was dropped or rewritten', () => {
    const none = { 'create-database': 0, 'drop-database': 0, use: 0, 'server-variable': 0 };
    expect(describeFilter({ dropped: none, definers: 0 })).toBe('');
    expect(describeFilter({ dropped: { ...none, use: 1 }, definers: 0 })).toBe('a dump naming a database: 1 USE line dropped');
    expect(describeFilter({ dropped: { ...none, 'create-database': 1, use: 1 }, definers: 3 })).toBe('a dump naming a database: 1 CREATE DATABASE line dropped, 1 USE line dropped, 3 lines rewritten without DEFINER');
    expect(describeFilter({ dropped: { ...none, 'server-variable': 3 }, definers: 0 })).toBe('3 replication settings (SQL_LOG_BIN, GTID_PURGED) dropped');
  });
});
